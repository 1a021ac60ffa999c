"""Table logs (`table_log`): CSV or Parquet tables of a robot arm's joints, TCP pose and gripper per timestamp, as
teams log them with their robot maker's own SDK. One file is one episode.

| native (states) | from | unit |
| --- | --- | --- |
| `observation.state` | the map's `joints` columns | as recorded (`joint_unit`), declared to canonicalization |
| `tcp.position`, `tcp.rotation` | `position`, `rotation` | as recorded |
| `gripper` | `gripper` | as recorded (not mapped to an opening: no maker states its unit) |

The column map is declared: a maker's preset (`preset: ur_rtde | xarm_sdk`, `columns.py`, each convention cited) or
the spec's own `columns:`. The right hand is the recorded TCP pose, in metres and quaternions in the description's
base frame. With `robot` naming an embodiment eidata has a description of (`ur5e`, `ur3e`, `lite6`, `xarm6`, `xarm7`,
...), canonicalization checks FK of the joints against the recorded pose and writes the result as a tier reason
(`canonical_fk_agreement`, `ingest/canonical/eef_agreement.py`). Without one the episode keeps its natives, said.
Rows come at the timestamp column's times, or at the `fps` option's rate where the map has none or the table lacks
it (said in a note: a preset's recorder logs the column, a logger of another recipe may not); a timestamp that
does not increase is the episode's error (a clock of whole seconds: log a finer one, or set `timestamp: null` and
`fps`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream
from adapters.poses import quat_xyzw
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from adapters.table_log.columns import PRESETS, SUFFIXES, TO_METRES, TO_SECONDS, ColumnMap, columns, read_table
from schemas.robots.joint_space import JointSpaceOptions
from schemas.robots.registry import default_registry
from schemas.spelling import unknown
from schemas.tiers import NO_DESCRIPTION, QualityTier, TierVerdict

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
