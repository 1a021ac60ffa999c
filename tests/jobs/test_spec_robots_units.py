"""A robot declared in the job spec whose recording is in lerobot's normalized units (issue 65 item 3): the arm in
`range_m100_100` (lerobot's default, `MotorNormMode.RANGE_M100_100`), the gripper motor in `range_0_100`, as
lerobot's `so101_follower` records them (`observation.state` names `shoulder_pan.pos` .. `gripper.pos`). The wrist is
the FK of the angles lerobot's own DEGREES formula gives for the same motor steps (huggingface/lerobot
src/lerobot/motors/motors_bus.py @ 049856c7 `_normalize`: -100..100 over [range_min, range_max]; degrees
(steps - mid) * 360 / 4095), on a real calibration file; the gripper opening is the recorded value between the
declared ends at each frame. An unknown unit is refused at its field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from adapters.synthetic.lerobot import write_lerobot_v3
from ingest.kinematics import load_model
from ingest.steps import JUDGED
from jobs.ingest.task import EpisodeTask, TaskSettings
from jobs.ingest.trace import find_episode
from jobs.ingest.worker import Attempt, run_steps
from jobs.spec import SpecError, load_spec
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from tests.adapters.lerobot.test_bimanual_so101 import ARM1, MOTORS

URDF = Path(__file__).resolve().parents[2] / "schemas/robots/descriptions/so101.urdf"
NAMES = [f"{m}.pos" for m in MOTORS]
N = 40


def _recording(root: Path) -> np.ndarray:
    """The arm in RANGE_M100_100 (a reach about each calibrated range's middle), the gripper 10 .. 90 in RANGE_0_100."""
    t = np.arange(N) / 10.0
    arm = np.stack([60 * np.sin(t + k) for k in range(5)], axis=1)
    grip = 50 + 40 * np.sin(t)[:, None]
    rows = np.concatenate([arm, grip], axis=1)
    write_lerobot_v3(
        root, (N,), cameras={}, names=NAMES, robot_type="so101_follower", vectors=lambda e, k: (rows, rows)
    )
    return rows


def _angles(rows: np.ndarray) -> np.ndarray:
    """lerobot's steps for each RANGE_M100_100 value, then its DEGREES reading of those steps, in radians."""
    out = []
    for i, m in enumerate(MOTORS[:5]):
        lo, hi = ARM1[m]["range_min"], ARM1[m]["range_max"]
        steps = (rows[:, i] + 100) / 200 * (hi - lo) + lo
        out.append(np.radians((steps - (lo + hi) / 2) * 360 / 4095))
    return np.stack(out, axis=1)


ROBOT = {
    "urdf": str(URDF),
    "units": "range_m100_100",
    "arms": {
        "right": {
            "joints": list(MOTORS[:5]),
            "eef_link": "gripper",
            "gripper": {"joint": "gripper", "unit": "range_0_100", "open": 100, "closed": 0},
        }
    },
}


def _spec(tmp: Path, robot: dict, options: dict | None = None) -> Path:
    source = {"name": "so101_home", "adapter": "lerobot", "root": "raw", "robot": "my_so101"}
    spec = {
        "output": str(tmp / "corpus"),
        "robots": {"my_so101": robot},
        "sources": [source | ({"options": options} if options else {})],
    }
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_a_declared_robot_in_lerobots_normalized_units_comes_out_canonical(tmp_path: Path) -> None:
    rows = _recording(tmp_path / "raw")
    spec = load_spec(_spec(tmp_path, ROBOT, {"joint_space": {"calibration": ARM1}}))
    run = Attempt(EpisodeTask(find_episode(spec, "episode_000000"), TaskSettings.of(spec, spec.output)), [])
    [ep] = dict(run_steps(run, JUDGED))["judge"].episodes
    assert ep.embodiment == "my_so101" and ep.action_kind.value == "canonical", ep.tier_reasons
    assert ep.joint_units is not None and ep.joint_units.unit == "range_m100_100" and ep.joint_units.fk
    n = ep.num_frames  # 10 Hz recording: frame k is the grid's row k
    q = np.concatenate([_angles(rows[:n]), np.zeros((n, 1))], axis=1)  # the jaw moves no wrist
    tip = load_model(str(URDF)).forward(q, ["gripper"])[:, 0, :3, 3]
    assert np.allclose(ep.state[:, hand_dims(1, WRIST_POS)], tip, atol=1e-5), "the wrist is FK of lerobot's angles"
    assert np.allclose(ep.state[:, hand_dims(1, GRIPPER)][:, 0], rows[:n, 5] / 100.0, atol=1e-5)


@pytest.mark.parametrize(
    ("change", "loc", "cause"),
    [
        ({"units": "radian"}, "robots.my_so101.units", "unknown joint unit 'radian'"),
        (
            {
                "arms": {
                    "right": ROBOT["arms"]["right"]
                    | {"gripper": {"joint": "gripper", "unit": "permille", "open": 1, "closed": 0}}
                }
            },
            "robots.my_so101.arms.right.gripper.unit",
            "unknown gripper unit 'permille'",
        ),
        (
            {"arms": {"right": ROBOT["arms"]["right"] | {"gripper": {"joint": "gripper", "open": 100, "closed": 0}}}},
            "robots.my_so101.arms.right.gripper",  # the spec has no `unit` key there: the nearest one
            "give the gripper's unit",
        ),
        (
            {
                "arms": {
                    "right": ROBOT["arms"]["right"]
                    | {"gripper": {"joint": "gripper", "unit": "percent", "open": 1000, "closed": 0}}
                }
            },
            "robots.my_so101.arms.right.gripper",
            "outside percent 0..100",
        ),
    ],
)
def test_an_unknown_or_missing_unit_is_refused_at_its_field(tmp_path: Path, change: dict, loc: str, cause: str) -> None:
    _recording(tmp_path / "raw")
    with pytest.raises(SpecError) as err:
        load_spec(_spec(tmp_path, ROBOT | change))
    assert any(i.loc == loc and cause in i.message for i in err.value.errors), err.value.errors


def test_lerobots_degrees_spelling_is_deg(tmp_path: Path) -> None:
    _recording(tmp_path / "raw")
    spec = load_spec(_spec(tmp_path, ROBOT | {"units": "degrees", "arms": {"right": ROBOT["arms"]["right"]}}))
    assert spec.robots["my_so101"].units == "deg"
