"""An episode's `data.json` (a list of steps) into streams, field by field; a bad field is named with its step.

What a step holds, as the maker's recorder and loader write and read it. Sources, all ausbxuse/Humanoid-Everyday
@80e302b: R = README.md, C = humanoid_everyday/core.py, H = scripts/he2lerobot.py.

| `data.json` field (per step) | here | unit / layout | source |
| --- | --- | --- | --- |
| the file: a JSON list of steps | one row per step | - | C:86-91, H:40-48 |
| `time` | timestamps (from the first kept step) | UNIX s | R:134 |
| `robot_type` | G1 when "g1" (also under `states`); H1_2 has none | - | R:74,135; H:96-112 |
| `states.arm_state` (14) | state, `kLeftShoulderPitch` .. `kRightWristYaw` (below) | rad | R:139-154 |
| `states.leg_state` (15 G1, 13 H1_2) | state, when in every step | rad | R:155-172 |
| `states.hand_state` (14 Dex3-1, 12 Inspire) | state | rad / Inspire 0..1, 1 = open (below) | R:174-203 |
| `states.imu.*` (quaternion, accelerometer, gyroscope, rpy) | signals, when in every step | quat wxyz | R:214-219 |
| `states.odometry.*` (position, velocity, rpy, quat) | signals, when in every step | quat w, x, y, z | R:221-226 |
| `actions.sol_q` (14) | action: the arms' joint targets, named as `arm_state` | rad | R:94,236; H:215-218 |
| `actions.{left,right}_angles` (7 G1, 12 H1) | actions: hand targets (H1: retargeted) | rad | R:79-92; H:201-213 |
| `actions.tau_ff` (14), `armtime`, `iktime` | signals, when in every step | N m, UNIX s | R:233-237 |
| `actions.head_rmat`, `{left,right}_pose` | signals (as above): the operator's head, wrists | 3x3, 4x4 | R:239-241 |
| `image` | the camera's frames, relative to the episode folder | 480x640 RGB | R:245,258-270; C:141 |
| `depth`, `lidar`, `states.hand_pressure_state` | not read | - | - |

A signal or the legs missing (or null) in some step is not read and named in `absent`; one present but malformed is
refused like the rest. The command is `actions.sol_q` plus the hands' angles: the maker's own conversion to LeRobot
builds its `action` from exactly these (H:194-218) and its README's quick start does the same (R:79-96). Actions are
merged into each step by the recorder from its IK log, by the nearest `armtime` within half a 30 Hz period, else the
last one held; before the first IK entry a step's `actions` is null (Ausbxuse/avp_teleop@94cd19e:teleop/merger.py:
23-27,66-80): such leading steps are dropped here and counted (`skipped`); a null later than that is refused.

G1 names: the arm order is Unitree's G1 29-DoF arm order, motors 15..28 (unitreerobotics/xr_teleoperate@e6c8b66:
teleop/robot_control/robot_arm.py `G1_29_JointArmIndex`), as the README lists it. H1_2 names: the README lists G1's
(README.md:139-154), but H1_2's arm is shoulder pitch/roll/yaw, elbow pitch/roll, wrist pitch/yaw: the recorder reads
its motors 13..26 in that order (Ausbxuse/avp_teleop@94cd19e:teleop/robot_control/robot_arm.py:385-402) and its IK
solves `sol_q` over the same joints of h1_2.urdf in tree order (robot_arm_ik.py:22-70), so they are named so here.
Dex3-1 hands in Unitree's motor order per hand (`schemas/robots/hands.yaml` dex3_hand_*: the right hand has index
before middle, where the README's list, README.md:183-189, repeats the left hand's order). Legs keep the README's
names (natives only), which are the recorder's H1 leg motors 0..12 (robot_arm.py:405-422).

H1_2's Inspire hands: `hand_state` is the recorder's `H1HandController.get_hand_state()`, the 12 `q` of Unitree's
`rt/inspire/state` in message order (Ausbxuse/avp_teleop@94cd19e teleop/robot_control/robot_hand.py:53-56, written
as read by worker.py:159): **the right hand's six first** (`get_right_q` reads states 0..5, `get_left_q` 6..11; its
replay.py:61-62 sends `hand_state[0:6]` as the right hand's command), each hand pinky, ring, middle, index, thumb
bend, thumb rotation, in 0 (closed) .. 1 (open) (unitreerobotics/unitree_sdk2@9ed6755
example/humanoid/low_level/inspire_hand.cpp, the maker's H1 hand example: "[0, 1] 0: close 1: open", the same
joint order and state indices; the recorder's labels open = ones, close = zeros). The README's list (left first) is
not what the recorder writes. They are named by `schemas/robots/hands.yaml` `inspire_hand_*` (`kRightHandPinky` ..),
so FK turns them into fingertips. The hands' `actions.*_angles` are not that unit: the retargeter's 12 joint angles
per hand, which the recorder turns into commands as `1.7 - q` (fingers) / `1.2 - q` / `0.5 - q` (thumb) without the
normalization (master.py:85-92): natives only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.base import Stream
from schemas.robots.hands import load_hands

Fail = Callable[[str, str], Exception]

_ARM = ("ShoulderPitch", "ShoulderRoll", "ShoulderYaw", "Elbow", "WristRoll", "WristPitch", "WristYaw")
ARM_NAMES = tuple(f"k{side}{j}" for side in ("Left", "Right") for j in _ARM)
# H1_2's arm: the elbow pitches and rolls, the wrist pitches and yaws (the recorder's motors 13..26)
_H1_2_ARM = ("ShoulderPitch", "ShoulderRoll", "ShoulderYaw", "ElbowPitch", "ElbowRoll", "WristPitch", "WristYaw")
H1_2_ARM_NAMES = tuple(f"k{side}{j}" for side in ("Left", "Right") for j in _H1_2_ARM)
_LEG = ("HipYaw", "HipRoll", "HipPitch", "Knee", "Ankle", "AnkleRoll")
LEG_NAMES = {
    15: (*(f"k{s}{j}" for s in ("Left", "Right") for j in _LEG), "kWaistYaw", "kWaistRoll", "kWaistPitch"),
    13: (*(f"k{s}{j}" for s in ("Left", "Right") for j in _LEG), "kWaistYaw"),
}


def dex3_names(side: str) -> tuple[str, ...]:
    return tuple(load_hands().hands[f"dex3_hand_{side}"].native_names)


def inspire_names() -> tuple[str, ...]:
    """H1_2's 12 hand values as the recorder writes them: the right hand's six, then the left's (module docstring)."""
    return tuple(n for side in ("right", "left") for n in load_hands().hands[f"inspire_hand_{side}"].native_names)


ROBOTS = {"g1": "unitree_g1", "h1": "unitree_h1_2"}  # robot_type value -> the robot_type recorded here
IMU = {"quaternion": 4, "accelerometer": 3, "gyroscope": 3, "rpy": 3}
ODOMETRY = {"position": 3, "velocity": 3, "rpy": 3, "quat": 4}


@dataclass
class Steps:
    """An episode's steps as streams: all on `t` (seconds from the first kept step)."""

    t: np.ndarray
    start_unix: float
    robot: str  # "g1" or "h1"
    states: dict[str, Stream] = field(default_factory=dict)
    actions: dict[str, Stream] = field(default_factory=dict)
    signals: dict[str, Stream] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    skipped: int = 0  # leading steps without actions
    absent: list[str] = field(default_factory=list)  # optional fields some step lacks: not read


def robot_of(step: dict[str, Any]) -> str:
    """ "g1" or "h1" as the maker tells them apart: `robot_type` on the step (or its `states`), absent for H1_2."""
    states = step.get("states")
    value = step.get("robot_type") or (states.get("robot_type") if isinstance(states, dict) else None)
    return "h1" if value is None else str(value).lower()


def parse_steps(doc: Any, fail: Fail) -> Steps:
    """The streams of one `data.json` document; `fail(message, field)` builds the error naming the field."""
    if not isinstance(doc, list):
        raise fail(f"holds a JSON {type(doc).__name__}, not the list of steps the maker's loader indexes", "data.json")
    if not doc:
        raise fail("no steps", "data.json")
    for i, step in enumerate(doc):
        if not isinstance(step, dict):
            raise fail(f"step {i} is a JSON {type(step).__name__}, not an object", f"[{i}]")
    skipped = _leading_without_actions(doc, fail)
    commanded = skipped < len(doc)  # else no step holds actions: every step is kept, without an action
    skipped = skipped if commanded else 0
    steps = doc[skipped:]
    robot = robot_of(steps[0])
    if robot not in ROBOTS:
        raise fail(f"robot_type {robot!r} is neither G1 nor H1", "robot_type")

    def col(path: tuple[str, ...], shape: tuple[int, ...] | None = None) -> np.ndarray:
        return _column(steps, path, fail, shape, skipped)

    def signal(key: str, path: tuple[str, ...], shape: tuple[int, ...], **kw: Any) -> None:
        """An optional signal: read when every step has it (malformed values still refused), else named absent."""
        if any(_get(s, path) is None for s in steps):
            out.absent.append(".".join(path))
        else:
            out.signals[key] = Stream(out.t, col(path, shape), **kw)

    t_unix = col(("time",), ())
    if len(t_unix) > 1 and not np.all(np.diff(t_unix) > 0):
        k = int(np.argmax(np.diff(t_unix) <= 0))
        raise fail(f"time goes from {t_unix[k]!r} to {t_unix[k + 1]!r} at step {skipped + k + 1}", "time")
    out = Steps(t=t_unix - t_unix[0], start_unix=float(t_unix[0]), robot=robot, skipped=skipped)
    out.states["states.arm_state"] = Stream(out.t, col(("states", "arm_state"), (14,)), arm_names(robot), "rad")
    hand = col(("states", "hand_state"))
    out.states["states.hand_state"] = Stream(out.t, hand, _hand_names(robot, hand.shape[1]), "native")
    if all(_get(s, ("states", "leg_state")) is not None for s in steps):
        leg = col(("states", "leg_state"))
        out.states["states.leg_state"] = Stream(out.t, leg, LEG_NAMES.get(leg.shape[1]), "rad")
    else:
        out.absent.append("states.leg_state")
    for key, width in IMU.items():
        signal(f"states.imu.{key}", ("states", "imu", key), (width,))
    for key, width in ODOMETRY.items():  # H1_2 writes them null
        signal(f"states.odometry.{key}", ("states", "odometry", key), (width,))
    if commanded:
        a = ("actions",)
        out.actions["actions.sol_q"] = Stream(out.t, col((*a, "sol_q"), (14,)), arm_names(robot), "rad")
        for side in ("left", "right"):
            v = col((*a, f"{side}_angles"))
            names = dex3_names(side) if robot == "g1" and v.shape[1] == 7 else None
            out.actions[f"actions.{side}_angles"] = Stream(out.t, v, names, "rad" if names else "native")
        signal("actions.tau_ff", (*a, "tau_ff"), (14,), unit="N m")
        for key in ("armtime", "iktime"):
            signal(f"actions.{key}", (*a, key), (), unit="unix_s")
        signal("actions.head_rmat", (*a, "head_rmat"), (3, 3), unit="rotation")
        for side in ("left", "right"):
            signal(f"actions.{side}_pose", (*a, f"{side}_pose"), (4, 4), unit="se3_4x4", frame="teleoperator")
    out.images = [_text(s, "image", i + skipped, fail) for i, s in enumerate(steps)]
    return out


def arm_names(robot: str) -> tuple[str, ...]:
    return ARM_NAMES if robot == "g1" else H1_2_ARM_NAMES


def _hand_names(robot: str, width: int) -> tuple[str, ...] | None:
    if robot == "g1" and width == 14:
        return (*dex3_names("left"), *dex3_names("right"))
    if robot == "h1" and width == 12:
        return inspire_names()
    return None


def _leading_without_actions(doc: list[dict[str, Any]], fail: Fail) -> int:
    """How many steps open the episode with `actions` null (the recorder had no IK entry yet); a null after an
    entry is refused (the merger holds the last entry instead)."""
    have = [s.get("actions") is not None for s in doc]
    first = have.index(True) if True in have else len(doc)
    if not all(have[first:]):
        k = first + have[first:].index(False)
        raise fail(f"null at step {k}, after step {first} had actions (the recorder holds the last)", f"[{k}].actions")
    return first


def _get(step: dict[str, Any], path: tuple[str, ...]) -> Any:
    v: Any = step
    for key in path:
        if not isinstance(v, dict):
            return None
        v = v.get(key)
    return v


def _text(step: dict[str, Any], key: str, i: int, fail: Fail) -> str:
    v = step.get(key)
    if not isinstance(v, str) or not v:
        raise fail(f"step {i}: expected a path relative to the episode folder, found {v!r}", f"[{i}].{key}")
    return v


def _column(
    steps: list[dict[str, Any]], path: tuple[str, ...], fail: Fail, shape: tuple[int, ...] | None = None, first: int = 0
) -> np.ndarray:
    """(T, *shape) float64 of `path` in every step (numbered from `first` in errors); `shape` None: any one width,
    the same in every step."""
    name = ".".join(path)
    rows = []
    for i, s in enumerate(steps, start=first):
        v = _get(s, path)
        if v is None:
            raise fail(f"missing or null in step {i}", f"[{i}].{name}")
        try:
            row = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise fail(f"step {i}: not numbers ({str(v)[:60]})", f"[{i}].{name}") from None
        want = shape if shape is not None else (rows[0].shape if rows else None)
        if (want is not None and row.shape != want) or (want is None and row.ndim != 1):
            expected = "a vector" if want is None else f"shape {want}"
            raise fail(f"step {i}: shape {row.shape}, expected {expected}", f"[{i}].{name}")
        if not np.all(np.isfinite(row)):
            raise fail(f"step {i}: a value is not finite", f"[{i}].{name}")
        rows.append(row)
    return np.stack(rows)
