"""Table logs (`table_log`): CSV or Parquet tables of a robot arm's joints, TCP pose and gripper per timestamp, as
teams log them with their robot maker's own SDK. One file is one episode.

| native (states) | from | unit |
| --- | --- | --- |
| `observation.state` | the map's `joints` columns | as recorded (`joint_unit`), declared to canonicalization |
| `tcp.position`, `tcp.rotation` | `position`, `rotation` | as recorded |
| `gripper` | `gripper` | as recorded (not mapped to an opening: no maker states its unit) |

The column map is declared: a maker's preset (`preset: ur_rtde | xarm_sdk`, `PRESETS`, each convention cited) or
the spec's own `columns:`. The right hand is the recorded TCP pose, in metres and quaternions in the description's
base frame. With `robot` naming an embodiment eidata has a description of (`ur5e`, `ur3e`, `lite6`, `xarm6`, `xarm7`,
...), canonicalization checks FK of the joints against the recorded pose and writes the result as a tier reason
(`canonical_fk_agreement`, `ingest/canonical/eef_agreement.py`). Without one the episode keeps its natives, said.
Rows come at the timestamp column's times, or at the `fps` option's rate where the map has none or the table lacks
it (said in a note: a preset's recorder logs the column, a logger of another recipe may not); a timestamp that
does not increase is the episode's error (a clock of whole seconds: log a finer one, or set `timestamp: null` and
`fps`).

A table log's column map (which columns are the timestamp, the joints, the TCP pose and the gripper, and their
units and angle convention), and the presets for the logs robot makers' own SDKs write. Each preset's convention is
cited from the maker's code; the angle order of the xArm pose was settled on a real Lite 6 log by FK (README.md).

- `ur_rtde`: Universal Robots' RTDE client (UniversalRobots/RTDE_Python_Client_Library @ 647788cc). Its recorder
  `examples/record.py` writes the recipe's fields (`examples/record_configuration.xml`: `timestamp`, `actual_q`,
  `actual_TCP_pose` VECTOR6D, ...) through `rtde/csv_writer.py`, one column per element named `<field>_<i>`
  (`actual_q_0` .. `actual_q_5`), space-delimited by default (`CSVWriter(..., delimiter=" ")`). `actual_q` is in
  radians and `actual_TCP_pose` is x, y, z in metres then a rotation vector (axis x angle, radians) in the
  controller's Base frame: UR's ROS 2 driver reads both as such (Universal_Robots_ROS2_Driver @ 696e1a7b
  `ur_robot_driver/src/hardware_interface.cpp:997,1004,1389-1393`: joint positions from `actual_q` as they are; the
  TCP pose's rotation from the rotation vector `actual_TCP_pose[3..5]`, its length the angle). The Base frame is the
  description's `base` link, base_link turned pi about z (Universal_Robots_ROS2_Description @ 2221ec0f
  `urdf/ur_macro.xacro`, joint `base_link-base_fixed_joint` and its comment). On the UR3e RTDE log
  moelyaakoubi/GUI-RTDE `robot_data.csv` (comma-delimited) FK of `actual_q` to tool0 in `base` gives
  `actual_TCP_pose` to 1e-6 m.
- `xarm_sdk`: UFACTORY's xArm Python SDK (xArm-Developer/xArm-Python-SDK @ d911319c): `get_position()` returns
  `[x, y, z, roll, pitch, yaw]` and `get_servo_angle()` the joints `joint1` ..; millimetres, and degrees unless
  `is_radian` (`xarm/wrapper/xarm_api.py`, `get_position` docstring and `default_is_radian`). Roll, pitch, yaw are
  about the fixed x, y, z axes (scipy "xyz"): on the Lite 6 log BAEK26/lfd `data/pouring/robot_data_0.csv` the FK
  of the joints gives the recorded rotation to 0.46 deg (median) this way and 10 to 140 deg any other way.

One table log read: a CSV (its delimiter told from the header line: UR's RTDE recorder writes spaces, most loggers
commas) or a Parquet file, the columns a `ColumnMap` names as float64 arrays. A column the file lacks is named with
the closest one it has (`schemas.spelling`), and so is a value that is not a number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field, model_validator
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream
from adapters.poses import quat_xyzw
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.frozen import Frozen
from schemas.robots.joint_space import JointSpaceOptions
from schemas.robots.registry import default_registry
from schemas.spelling import did_you_mean, unknown
from schemas.tiers import NO_DESCRIPTION, QualityTier, TierVerdict

RotationForm = Literal["axis_angle", "euler_xyz", "quat_xyzw", "quat_wxyz"]
ROTATION_WIDTH = {"axis_angle": 3, "euler_xyz": 3, "quat_xyzw": 4, "quat_wxyz": 4}
TO_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
TO_METRES = {"m": 1.0, "mm": 1e-3}


class ColumnMap(Frozen):
    """Which columns of the table are what, and in which units and angle convention."""

    timestamp: str | None = Field(
        description="the time column (strictly increasing); null: rows at the source's `fps` option"
    )
    timestamp_unit: Literal["s", "ms", "us", "ns"] = Field("s", description="of the time column")
    joints: tuple[str, ...] = Field(description="the arm's joint columns, base to tip, in the description's order")
    joint_unit: Literal["rad", "deg"] = Field(description="of the joint columns: rad or deg")
    position: tuple[str, str, str] | None = Field(None, description="the TCP's x, y, z columns; null: no pose")
    position_unit: Literal["m", "mm"] = Field("m", description="of the position columns: m or mm")
    rotation: tuple[str, ...] = Field((), description="the TCP's rotation columns, as many as `rotation_form` has")
    rotation_form: RotationForm = Field(
        "axis_angle",
        description="axis_angle (a rotation vector, 3), euler_xyz (roll, pitch, yaw about the fixed x, y, z, 3),"
        " quat_xyzw or quat_wxyz (4)",
    )
    rotation_unit: Literal["rad", "deg"] = Field("rad", description="of an axis-angle or Euler rotation")
    # the recorded pose's frame as a turn about the description base's z: a UR controller's Base frame is base_link
    # turned pi (ur_macro.xacro, joint base_link-base_fixed_joint)
    base_turn_z_deg: float = Field(
        0.0, description="the pose's frame turned about the description base's z (a UR controller's Base: 180)"
    )
    gripper: str | None = Field(None, description="a gripper column (kept as a native state; not mapped to 0..1)")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMap:
        if self.position is not None and len(self.rotation) != ROTATION_WIDTH[self.rotation_form]:
            raise ValueError(
                f"rotation has {len(self.rotation)} columns; a {self.rotation_form} rotation has "
                f"{ROTATION_WIDTH[self.rotation_form]}"
            )
        if not self.joints:
            raise ValueError("joints names no column")
        return self

    def columns(self) -> tuple[str, ...]:
        """Every column the map names."""
        named = (self.timestamp, *self.joints, *(self.position or ()), *self.rotation, self.gripper)
        return tuple(c for c in named if c is not None)


def _indexed(field: str, n: int = 6) -> tuple[str, ...]:
    return tuple(f"{field}_{i}" for i in range(n))


PRESETS: dict[str, ColumnMap] = {
    "ur_rtde": ColumnMap(
        timestamp="timestamp",
        joints=_indexed("actual_q"),
        joint_unit="rad",
        position=_indexed("actual_TCP_pose", 3),  # type: ignore[arg-type]
        rotation=_indexed("actual_TCP_pose")[3:],
        rotation_form="axis_angle",
        base_turn_z_deg=180.0,
    ),
    "xarm_sdk": ColumnMap(
        timestamp="timestamp",
        joints=tuple(f"joint{i}" for i in range(1, 7)),
        joint_unit="deg",
        position=("x", "y", "z"),
        position_unit="mm",
        rotation=("roll", "pitch", "yaw"),
        rotation_form="euler_xyz",
        rotation_unit="deg",
    ),
}


SUFFIXES = (".csv", ".tsv", ".parquet")
DELIMITERS = (",", "\t", ";", " ")


def delimiter(header: str) -> str:
    """The delimiter that splits the header line into the most fields (a one-column table: ",")."""
    return max(DELIMITERS, key=lambda d: (len([f for f in header.split(d) if f.strip()]), d == ","))


def read_table(path: Location) -> pa.Table:
    """The whole table of a CSV or Parquet log; ValueError saying why it does not parse."""
    with path.readable() as src:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(src)
        with path.open("rb") as f:
            header = f.readline(1 << 20).decode("utf-8", errors="replace").rstrip("\r\n")
        parse = pacsv.ParseOptions(delimiter=delimiter(header))
        try:
            return pacsv.read_csv(src, parse_options=parse)
        except pa.ArrowInvalid as e:
            raise ValueError(f"not a CSV table: {e}") from e


def columns(table: pa.Table, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns as (T,) float64; ValueError naming a missing column (with the closest the table has) or
    one that holds no numbers."""
    have = table.column_names
    missing = [n for n in names if n not in have]
    if missing:
        near = [f"{n!r} ({hint})" for n in missing if (hint := did_you_mean(n, have, listing="")).startswith("did")]
        far = [repr(n) for n in missing if not did_you_mean(n, have, listing="").startswith("did")]
        said = ", ".join(near + far[:5]) + (f" and {len(far) - 5} more" if len(far) > 5 else "")
        theirs = did_you_mean("", have, listing="the table's columns", limit=20)
        raise ValueError(
            f"{len(missing)} of the column map's {len(names)} columns are not in the table: {said}; {theirs} "
            "(a log of another recorder: declare its `columns`)"
        )
    out = {}
    for n in names:
        try:
            out[n] = table.column(n).to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError, pa.ArrowInvalid) as e:
            raise ValueError(f"column {n!r} holds values that are not numbers ({e})") from e
    return out


UNKNOWN = "unknown"
ROWS_AT_FPS = "source_rows_at_fps"  # the note of a log read without its clock, at the option fps


class TableLogOptions(AdapterOptions):
    preset: Literal["ur_rtde", "xarm_sdk"] | None = Field(
        None, description="a maker SDK's column map: ur_rtde (UR's RTDE recorder), xarm_sdk (UFACTORY's xArm SDK)"
    )
    columns: ColumnMap | None = Field(None, description="the table's own column map (in place of a preset)")
    robot: str | None = Field(
        None,
        description="the embodiment that recorded the log (ur5e, ur3e, lite6, xarm6, xarm7, ...): its description"
        " checks the TCP pose by FK; unset: natives only",
    )
    fps: float | None = Field(
        None,
        gt=0,
        description="the rows' rate (Hz) of a log without a clock: a map whose timestamp is null, or a table without"
        " the map's timestamp column (a preset's too)",
    )

    @model_validator(mode="after")
    def _one_map(self) -> TableLogOptions:
        if (self.preset is None) == (self.columns is None):
            raise ValueError("give preset or columns, one of them")
        if self.column_map().timestamp is None and self.fps is None:
            raise ValueError("a column map without a timestamp column needs fps")
        if self.robot is not None and self.robot not in default_registry():
            raise ValueError(unknown("robot", self.robot, default_registry().names()))
        return self

    def column_map(self) -> ColumnMap:
        return self.columns if self.columns is not None else PRESETS[self.preset or ""]


class TableLogAdapter(SourceAdapter[TableLogOptions]):
    name: ClassVar[str] = "table_log"
    expects: ClassVar[str] = f"table logs: {', '.join('*' + s for s in SUFFIXES)} files"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        files = sorted((p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()), key=str)
        subset = self.options.subset or root.name or "logs"
        for path in files:
            yield self.new_ref(str(path.relative_to(root)), [str(path)], subset=subset, locator={"root": str(root)})

    def read(self, ref: EpisodeRef) -> RawEpisode:
        path = self.file(ref.paths[0])
        cmap = self.options.column_map()
        try:
            table = read_table(path)
            cmap, clock = self._clock(cmap, table.column_names)
            cols = columns(table, cmap.columns())
        except (OSError, ValueError) as e:
            raise self.error(str(e), file=path, episode=ref.raw_id, field="columns") from e
        t = self._times(cols, cmap, path, ref.raw_id)
        q = np.stack([cols[c] for c in cmap.joints], axis=1)
        states = {"observation.state": Stream(t, q, cmap.joints, cmap.joint_unit)}
        if cmap.gripper is not None:
            states["gripper"] = Stream(t, cols[cmap.gripper], (cmap.gripper,))
        emb = default_registry().get(self.options.robot) if self.options.robot else None
        hands, verdicts, joint_space = HandSignals(), clock, None
        if emb is None or emb.joint_space is None:
            said = f"robot {self.options.robot or 'not named'}: no description, natives only (option robot names one)"
            verdicts = (TierVerdict.note(said, NO_DESCRIPTION), *clock)
        else:
            urdf = [j.urdf for j in emb.joint_space.arms[0].joints]
            if len(urdf) != len(cmap.joints):
                msg = f"{len(cmap.joints)} joint columns for {emb.name}'s {len(urdf)} joints ({', '.join(urdf)})"
                raise self.error(msg, file=path, episode=ref.raw_id, field="columns.joints")
            joint_space = JointSpaceOptions(units=cmap.joint_unit, joint_map=dict(zip(cmap.joints, urdf, strict=True)))
        if cmap.position is not None:
            pos = np.stack([cols[c] for c in cmap.position], axis=1)
            rot = np.stack([cols[c] for c in cmap.rotation], axis=1)
            states["tcp.position"] = Stream(t, pos, cmap.position, cmap.position_unit)
            states["tcp.rotation"] = Stream(t, rot, cmap.rotation, f"{cmap.rotation_form} {cmap.rotation_unit}")
            if joint_space is not None:
                hands = tcp_hand(t, pos, rot, cmap)
        return RawEpisode(
            ref=ref,
            robot_type=self.options.robot,
            embodiment=emb.name if emb is not None and joint_space is not None else UNKNOWN,
            tier=QualityTier.high,
            native_fps=self.options.fps or (float(1 / np.median(np.diff(t))) if len(t) > 1 else None),
            states=states,
            verdicts=verdicts,
            metadata={"column_map": cmap.model_dump(mode="json"), "preset": self.options.preset},
            hands=hands,
            joint_space=joint_space,
        )

    def _clock(self, cmap: ColumnMap, have: list[str]) -> tuple[ColumnMap, tuple[TierVerdict, ...]]:
        """The map to read the table with, and the note saying its rows are at `fps`: a map's timestamp column the
        table lacks is a log without a clock where the option `fps` gives the rows' rate (a preset names the column
        its SDK's recorder writes; a logger of another recipe may leave it out), said in a note; without `fps` the
        missing column is named with the option that reads such a log."""
        if cmap.timestamp is None or cmap.timestamp in have:
            return cmap, ()
        if self.options.fps is None:
            if all(c in have for c in cmap.columns() if c != cmap.timestamp):
                msg = f"the column map's timestamp column {cmap.timestamp!r} is not in the table"
                raise ValueError(f"{msg}; a log without a clock: set the option fps (the rate its rows were logged at)")
            return cmap, ()  # `columns` names every missing column
        said = f"no {cmap.timestamp!r} column in the table: rows at the option fps {self.options.fps:g} Hz"
        return cmap.model_copy(update={"timestamp": None}), (TierVerdict.note(said, ROWS_AT_FPS),)

    def _times(self, cols: dict[str, np.ndarray], cmap: ColumnMap, path: Location, episode: str) -> np.ndarray:
        n = len(next(iter(cols.values())))
        if cmap.timestamp is None:
            return np.arange(n, dtype=np.float64) / float(self.options.fps or 1.0)
        t = cols[cmap.timestamp] * TO_SECONDS[cmap.timestamp_unit]
        steps = np.diff(t)
        if n and (not np.isfinite(t).all() or (steps <= 0).any()):
            bad = int(np.argmax(~np.isfinite(t[1:]) | (steps <= 0))) + 1
            msg = (
                f"timestamps do not increase: {int((steps <= 0).sum())} of {max(n - 1, 0)} steps are not forward "
                f"(row {bad}: {t[bad - 1]:.6f} then {t[bad]:.6f} s), a clock too coarse for the rows? log a finer "
                "one, or set the column map's timestamp to null and the option fps (the logger's rate)"
                + (
                    " (a preset: its map written out as `columns:`, adapters/table_log/README.md)"
                    if self.options.preset
                    else ""
                )
            )
            raise AdapterError(msg, adapter=self.name, file=path, episode=episode, field=cmap.timestamp)
        return t - t[0] if n else t


def tcp_hand(t: np.ndarray, pos: np.ndarray, rot: np.ndarray, cmap: ColumnMap) -> HandSignals:
    """The recorded TCP as the right hand: metres, x, y, z, w quaternions, in the description's base frame (the
    map's `base_turn_z_deg`). Read as the flange: the tool offset the controller applies is not in the log, and the
    FK check fits a constant one (eef_agreement)."""
    turn = Rotation.from_euler("z", cmap.base_turn_z_deg, degrees=True)
    angular = cmap.rotation_form in ("axis_angle", "euler_xyz")
    angles = np.radians(rot) if angular and cmap.rotation_unit == "deg" else rot
    quat = (turn * Rotation.from_quat(quat_xyzw(angles, cmap.rotation_form))).as_quat()
    xyz = turn.apply(pos * TO_METRES[cmap.position_unit])
    track = HandTrack(
        position=Stream(t, xyz, ("x", "y", "z"), "m", "robot_base"),
        rotation=Stream(t, quat, ("qx", "qy", "qz", "qw"), "quat_xyzw", "robot_base"),
    )
    why = "a table log's TCP pose; the controller's tool offset is not in the log (assumed none)"
    return HandSignals(hands={1: track}, frame="robot_base", recorded_point=("flange", why))
