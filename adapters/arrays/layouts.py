"""The array-recording layouts as data (`layouts.yaml`, whose header cites the makers' code for each convention) and
the choice of one for a file: by name (the `layout` option) or detected from the keys and attributes the file holds,
with the evidence said; a file no layout fits is refused naming what each layout of its container lacks.

Files of a maker's old version that no layout reads: refused naming the version and what is missing, not as a file
no layout fits (issue 86 item 7: robosuite 0.1's Sawyer and Baxter demos were refused as "no hdf5 layout fits",
without the `repository_version` 0.1.0 they hold, so a team could not tell an old version from a corrupt file).

robosuite 0.1, from its own code (ARISE-Initiative/robosuite@48d625be
`robosuite/scripts/collect_human_demonstrations.py` `gather_demonstrations_as_hdf5`, and @d76f4b4c
`robosuite/wrappers/data_collection_wrapper.py` `step`/`_flush`, the commits that ship
`robosuite/models/assets/demonstrations/{SawyerLift,BaxterPegInHole,...}/demo.hdf5`):
- `data` attributes `date`, `time`, `repository_version` (`robosuite.__version__`) and `env`, the environment's class
  name (`self.env.unwrapped.__class__.__name__`: `<Robot><Task>`, SawyerLift, BaxterPegInHole): the robot is its
  first word;
- per `data/demo_N`: `states`, MuJoCo's flattened simulator state (`self.env.sim.get_state().flatten()`: time, qpos,
  qvel) of the episode's own `models/model_N.xml`; `joint_velocities`, the joint velocities commanded each step (the
  IK wrapper's `controller.commanded_joint_velocities`, else `action[:dof]`); `gripper_actuations` (`action[7:]`
  Sawyer, `action[14:]` Baxter); `right_dpos`/`right_dquat` (and `left_*` for Baxter), the end-effector deltas the
  device gave the IK wrapper (`action[:3]`, `action[3:7]`); state t beside the action applied from it
  (`zip(states[:-1], action_infos[1:])`);
- no observation, no `env_info` and no control rate (the script ran the environment at `control_freq=100`, written
  nowhere in the file).
So a pose, a joint name or a rate is in the file only through the model replayed in robosuite 0.1: eidata reads none
of it, and says so.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from adapters.camera_roles import camera_roles
from adapters.poses import PoseHand
from schemas.actions import NotCanonical
from schemas.canonical import Camera
from schemas.data_file import read_yaml

Container = Literal["zarr", "hdf5"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Detect(_Data):
    requires: tuple[str, ...] = ()  # key patterns, each matched by at least one array or group
    attrs: tuple[str, ...] = ()  # "group@name" attributes present
    lacks: tuple[str, ...] = ()  # key patterns matched by nothing


class Episodes(_Data):
    ends: str | None = None  # key of the exclusive row ends (a replay buffer)
    groups: str | None = None  # pattern of one group per episode
    file: bool = False  # the file is one episode
    base: str = ""  # where the per-row arrays live (`ends`, `file`)


class FromFile(_Data):
    """A value from the file (`attr` "group@name", a JSON string, then `json` keys into it) or a constant `value`."""

    attr: str | None = None
    json_path: tuple[str, ...] = Field((), alias="json")
    value: str | None = None
    file_suffix: str | None = None  # language: the file name without this suffix, when the attribute is absent


class When(_Data):
    """Where a rate default's evidence holds: every `requires` key pattern held and, with `attr` (`group@name`, then
    `json` keys), that attribute equal to `equals`, like `matches` (fnmatch), or present when neither is set."""

    requires: tuple[str, ...] = ()
    attr: str | None = None
    json_path: tuple[str, ...] = Field((), alias="json")
    equals: int | str | None = None
    matches: str | None = None


class RateDefault(_Data):
    """A rate the maker's code gives (`why` cites it), for the files `when` says are that maker's."""

    hz: float = Field(gt=0)
    why: str
    when: When


class Rate(FromFile):
    """The file's own rate (`attr`), else the first of `defaults` whose evidence the file holds, else none: the `fps`
    option is then required (a default is never applied to another maker's file)."""

    defaults: tuple[RateDefault, ...] = ()


class Hands(_Data):
    """One way a layout's episodes reach the canonical hands: recorded poses per side, or `joints` the embodiment's
    description turns into wrists (FK in ingest.canonical.joint_space), its columns named by `names`."""

    name: str
    embodiment: str  # a name in schemas.robots.registry.default_registry()
    why: str
    # the table (`robots.yaml`) of robots the file may name: the embodiment is taken only where the file names the
    # robot whose row is `embodiment` (else natives only, said); None: the layout's recorder is the robot's evidence
    robot: str | None = None
    # attributes (`group@name`) the file must hold for this way: the recorder's own mark where the file names no
    # robot (ACT's `sim`), so a file of the layout's shape from another recorder is not read as this robot
    attrs: tuple[str, ...] = ()
    left: PoseHand | None = None
    right: PoseHand | None = None
    point: Literal["tcp", "flange", "wrist"] | None = None  # what the poses measure (None: by the subset's name)
    joints: str | None = None
    names: dict[str, tuple[str, ...]] = {}  # per-row key -> its column names
    cameras: dict[str, Camera | None] = {}  # cameras this way places over the layout's (UMI's second gripper's GoPro)

    def required(self) -> tuple[str, ...]:
        """What an episode must hold for this way to be taken."""
        sides = [k for h in (self.left, self.right) if h is not None for k in h.required()]
        return (*sides, *((self.joints,) if self.joints else ()))


class NoHands(_Data):
    """Why a layout has no way to the canonical hands, from its maker's code: the cause, typed, and the sentence."""

    cause: NotCanonical
    why: str


class Layout(_Data):
    container: Container
    detect: Detect
    episodes: Episodes
    actions: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    timestamps: str | None = None  # per-row times in seconds, when the file has them
    image_scale: float = 255.0
    rate: Rate
    robot_type: FromFile | None = None
    language: FromFile | None = None
    cameras: dict[str, Camera | None] = {}  # camera name -> canonical camera (null: none), over the shared rules
    hands: tuple[Hands, ...] = ()  # the ways to the canonical hands, first that the episode holds
    no_hands: NoHands | None = None  # a layout without `hands`: why (its files record nothing a hand is built from)

    def camera_roles(self, names: list[str], way: Hands | None = None) -> dict[str, Camera | None]:
        """The episode's cameras placed: the hands way's and layout's entries, else the shared vocabulary."""
        return camera_roles(names, {**self.cameras, **(way.cameras if way is not None else {})})


class _Layouts(RootModel[dict[str, Layout]]):
    """`layouts.yaml` beside this module: name -> layout, in detection order."""


LAYOUTS: dict[str, Layout] = read_yaml(Path(__file__).with_name("layouts.yaml"), _Layouts).root


def matches(keys: frozenset[str], pattern: str) -> list[str]:
    """The keys `pattern` names (fnmatch, `*` not crossing `/`)."""
    depth = pattern.count("/")
    return sorted(k for k in keys if k.count("/") == depth and fnmatchcase(k, pattern))


def evidence(layout: Layout, keys: frozenset[str], attrs: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(what of `layout`'s detection evidence the file holds, what it lacks or holds against it)."""
    held, lacking = [], []
    for pattern in layout.detect.requires:
        (held if matches(keys, pattern) else lacking).append(pattern)
    for ref in layout.detect.attrs:
        group, _, name = ref.partition("@")
        (held if name in attrs.get(group, {}) else lacking).append(f"attribute {ref}")
    for pattern in layout.detect.lacks:
        if found := matches(keys, pattern):
            lacking.append(f"no {pattern} (found {found[0]})")
    return held, lacking


def choose(
    container: Container, keys: frozenset[str], attrs: dict[str, dict[str, Any]], name: str | None = None
) -> tuple[str, Layout, str]:
    """(name, layout, why) for a file: the named layout (its evidence still checked), else the first that fits.
    ValueError naming, per layout of this container, what the file lacks."""
    candidates = {n: lay for n, lay in LAYOUTS.items() if lay.container == container and name in (None, n)}
    if name is not None and name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; known: {sorted(LAYOUTS)}")
    if not candidates:
        raise ValueError(f"layout {name!r} is a {LAYOUTS[name].container} layout, and this is a {container} store")
    lacks = {}
    for n, lay in candidates.items():
        held, lacking = evidence(lay, keys, attrs)
        if not lacking:
            how = "named by the layout option" if name else "detected"
            return n, lay, f"{how}: the file holds {', '.join(held)}"
        lacks[n] = lacking
    said = "; ".join(f"{n} lacks {', '.join(missing)}" for n, missing in lacks.items())
    raise ValueError(f"no {container} layout fits this file ({said})")


def attr_value(spec: FromFile, attrs: dict[str, dict[str, Any]]) -> tuple[Any, str] | None:
    """(value, where it came from) of `spec` in the file's attributes, or its constant; None when absent."""
    if spec.value is not None:
        return spec.value, "the layout"
    if spec.attr is None:
        return None
    group, _, name = spec.attr.partition("@")
    raw = attrs.get(group, {}).get(name)
    if raw is None:
        return None
    value: Any = raw
    if spec.json_path:
        try:
            value = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        except ValueError:
            return None
        for key in spec.json_path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
    return value, f"attribute {spec.attr}" + "".join(f"[{k!r}]" for k in spec.json_path)


def holds(when: When, keys: frozenset[str], attrs: dict[str, dict[str, Any]]) -> bool:
    """Whether a file with `keys` and `attrs` holds the evidence `when` asks for."""
    if not all(matches(keys, p) for p in when.requires):
        return False
    if when.attr is None:
        return True
    found = attr_value(FromFile(attr=when.attr, json=when.json_path), attrs)
    if found is None:
        return False
    value = found[0]
    if when.equals is not None:
        return value == when.equals or str(value) == str(when.equals)
    return when.matches is None or fnmatchcase(str(value), when.matches)


class RateUnknown(ValueError):
    """A file whose rate nothing states: not the file, not a maker it names (a default is never borrowed)."""


def rate_of(
    layout: Layout, attrs: dict[str, dict[str, Any]], keys: frozenset[str], option: float | None, path: Any
) -> tuple[float, str]:
    """(Hz, where from) of a file (`path`, named in errors): the `fps` option, the file's own rate, the first default
    whose maker the file names; else RateUnknown naming the option and the file."""
    if option is not None:
        return option, "option"
    found = attr_value(layout.rate, attrs)
    if found is not None:
        try:
            hz = float(found[0])
        except (TypeError, ValueError):
            hz = 0.0
        if hz > 0:
            return hz, f"file: {found[1]}"
    default = next((d for d in layout.rate.defaults if holds(d.when, keys, attrs)), None)
    if default is not None:
        return default.hz, f"default: {default.why}"
    where = f"attribute {layout.rate.attr}" + "".join(f"[{k!r}]" for k in layout.rate.json_path)
    makers = "; ".join(f"{d.hz:g} Hz for {_evidence(d.when)} ({d.why})" for d in layout.rate.defaults)
    raise RateUnknown(
        f"the `fps` option is required for {path}: it states no rate"
        + (f" ({where} absent)" if layout.rate.attr else "")
        + (f" and names no maker whose rate is known ({makers})" if makers else " and its layout knows none")
    )


def _evidence(when: When) -> str:
    said = [f"keys {', '.join(when.requires)}"] if when.requires else []
    if when.attr is not None:
        attr = when.attr + "".join(f"[{k!r}]" for k in when.json_path)
        test = f" == {when.equals!r}" if when.equals is not None else f" like {when.matches!r}" if when.matches else ""
        said.append(f"attribute {attr}{test}")
    return " and ".join(said)


# `states` alone: the real BaxterPegInHole demo robosuite 0.1.0 shipped (tag v0.1.0 = 4855b83,
# robosuite/models/assets/demonstrations/BaxterPegInHole/demo.hdf5) holds `states` and nothing else, although the
# writer lists the action datasets; the version names the file whatever columns it holds (issue 97 item 4)
ROBOSUITE_0_DEMO = ("data/demo_*/states",)


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


def unread_version(keys: frozenset[str], attrs: dict[str, dict[str, Any]]) -> str | None:
    """Why a file of a version no layout reads is refused (its version, robot and what it lacks), or None."""
    data = attrs.get("data", {})
    version = _text(data.get("repository_version", ""))
    if not (version.startswith("0.") and all(matches(keys, p) for p in ROBOSUITE_0_DEMO)):
        return None
    env = _text(data.get("env", "?"))
    robot = m[0] if (m := re.match(r"[A-Z][a-z]+", env)) else "unknown"
    columns = sorted({k.rsplit("/", 1)[1] for k in keys if re.fullmatch(r"data/demo_[^/]+/[^/]+", k)})
    held = ", ".join(columns) + ("" if len(columns) > 1 else ": states only, no command at all")
    return (
        f"a robosuite {version} demonstration file (data@repository_version {version!r}, env {env!r}: robot {robot}), "
        f"which no layout reads: robosuite 0.x recorded no observation, no rate and no `actions` (its columns: "
        f"{held}): `states` is MuJoCo's flattened simulator state of the episode's own model_N.xml, "
        "`joint_velocities` + `gripper_actuations` the joint-velocity command, `right_dpos`/`right_dquat` the IK "
        "wrapper's input (robosuite 0.1 wrappers/data_collection_wrapper.py); replay it in robosuite 0.1 and record "
        "the observations, or collect it again with robosuite >= 1.4 (whose raw files eidata reads: robosuite_raw)"
    )
