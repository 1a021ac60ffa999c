"""A robot family's member told from the recording (issue 65 item 5): Leju's KUAVO 4 Pro is made with long or short
arms (kuavo_4pro_long / kuavo_4pro_short) and its recordings say `kuavo4pro` for both. Where an episode holds the
joints and a recorded end-effector pose, FK of each member is fitted to the recorded poses and the one that fits is
the robot, with both members' residuals in the tier reasons; without a recorded pose, or with a motion that either
arm explains, the episode keeps its natives and the reason names the option. The recorded poses here are FK of one
member through the shipped description, turned by a base and a tool transform the fit must absorb."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.family import resolve_family
from ingest.canonical.joint_space import joint_space_signals
from schemas.robots.registry import JOINT_SPACE, default_registry
from schemas.tiers import QualityTier

LEGS = [f"leg_{k}" for k in range(12)]
ARMS = [f"zarm_{s}{k}_link" for s in "lr" for k in range(1, 8)]  # kuavo_dataset.py @ fce8528:19-21
N = 60


def _joints(amplitude: float) -> np.ndarray:
    """(N, 28) maker-ordered joint_q: both arms moving smoothly within their limits (shoulder and elbow forward)."""
    t = np.linspace(0.0, 1.0, N)[:, None]
    phase = np.arange(14)[None, :]
    q = amplitude * (np.sin(2.0 * np.pi * t + phase) - 1.0) / 2.0  # in [-amplitude, 0]
    out = np.zeros((N, 28))
    out[:, 12:26] = q
    return out


def _raw(joints: np.ndarray, recorded_by: str | None) -> RawEpisode:
    ref = EpisodeRef(adapter="rosbag", source="t", subset="let", raw_id="0", paths=("x",))
    t = np.arange(N) / 10.0
    state = Stream(t, joints, names=tuple(LEGS + ARMS + ["head_yaw", "head_pitch"]))
    raw = RawEpisode(ref, None, "kuavo_4pro", QualityTier.high, 10.0, states={"sensors_data_raw": state})
    if recorded_by is None:
        return raw
    fk = joint_space_signals(raw, JOINT_SPACE[recorded_by]).signals
    base = np.eye(4)
    base[:3, :3] = Rotation.from_euler("z", 0.3).as_matrix()
    base[:3, 3] = [0.1, -0.05, 0.8]  # the recorder's world, not the description's base
    tool = np.eye(4)
    tool[:3, 3] = [0.0, 0.0, -0.17]  # a point on the hand below the flange
    hands = {
        h: HandTrack(rotation=Stream(t, base @ track.rotation.values @ tool, unit="se3_4x4", frame="robot_base"))
        for h, track in fk.hands.items()
    }
    return RawEpisode(
        ref, None, "kuavo_4pro", QualityTier.high, 10.0, states={"sensors_data_raw": state}, hands=HandSignals(hands)
    )


@pytest.mark.parametrize("member", ["kuavo_4pro_long", "kuavo_4pro_short"])
def test_the_arm_length_is_the_one_whose_fk_fits_the_recorded_poses(member: str) -> None:
    raw, reasons = resolve_family(_raw(_joints(0.8), member), default_registry())
    assert raw.embodiment == member and not raw.hands.empty
    (note,) = reasons
    other = ({"kuavo_4pro_long", "kuavo_4pro_short"} - {member}).pop()
    assert note.startswith("robot family kuavo_4pro (Leju KUAVO 4 Pro: long arms") and f": {member}, by FK" in note
    figures = {m: float(note.split(f"{m}: p95 rotation ")[1].split(", position ")[1].split(" mm")[0]) for m in
               (member, other)}  # fmt: skip
    assert figures[member] < 1.0 and figures[other] > 10.0, figures  # mm
    result = canonicalize_spans(_raw(_joints(0.8), member))
    assert {ep.embodiment for ep in result.episodes} == {member}
    assert any(r.startswith("robot family kuavo_4pro") for r in result.episodes[0].tier_reasons)


def test_without_a_recorded_pose_the_episode_keeps_its_natives_and_names_the_option() -> None:
    raw, (reason,) = resolve_family(_raw(_joints(0.8), None), default_registry())
    assert raw.embodiment == "unknown"
    assert "holds no recorded end-effector pose" in reason
    assert "set `embodiment: kuavo_4pro_long` or `embodiment: kuavo_4pro_short`" in reason


def test_a_motion_either_arm_explains_tells_nothing() -> None:
    """Arms that barely move: the fitted transforms absorb the length difference, both fit, neither is taken."""
    raw, (reason,) = resolve_family(_raw(_joints(0.002), "kuavo_4pro_long"), default_registry())
    assert raw.embodiment == "unknown" and raw.hands.empty
    assert "fits kuavo_4pro_long and kuavo_4pro_short alike" in reason and "natives only" in reason


def test_a_robot_that_is_no_family_passes_unchanged() -> None:
    raw = _raw(_joints(0.8), None)
    same, reasons = resolve_family(
        raw.__class__(**{**raw.__dict__, "embodiment": "kuavo_4pro_long"}), default_registry()
    )
    assert same.embodiment == "kuavo_4pro_long" and reasons == ()
