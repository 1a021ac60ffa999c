"""A robot family's member told from the recording (issue 65 item 5): Leju's KUAVO 4 Pro is made with long or short
arms (kuavo_4pro_long / kuavo_4pro_short) and its recordings say `kuavo4pro` for both. A recorded joint value past a
member's limits rules it out (the long arm's elbow bends to -2.618 rad, the short one's to -1.571; the short arm's
wrist turns +-1.571, the long one's +-0.698); where the episode also holds a recorded end-effector pose, FK of each
member is fitted to it and a member that does not fit is ruled out. The one left is the robot, every member's figures
in the tier reasons; with none or both left the episode keeps its natives and the reason names the option. The
recorded poses here are FK of one member through the shipped description, turned by a base and a tool transform the
fit must absorb."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.family import resolve_family
from ingest.canonical.joint_space import joint_space_signals
from ingest.kinematics import load_model
from schemas.robots.registry import JOINT_SPACE, default_registry
from schemas.tiers import QualityTier

LEGS = [f"leg_{k}" for k in range(12)]
ARMS = [f"zarm_{s}{k}_link" for s in "lr" for k in range(1, 8)]  # kuavo_dataset.py @ fce8528:19-21
N = 60


def _joints(amplitude: float) -> np.ndarray:
    """(N, 28) maker-ordered joint_q: both arms moving smoothly about the middle of the range both arm lengths allow,
    `amplitude` of its half-width."""
    lo, hi = np.full(14, -np.inf), np.full(14, np.inf)
    for name in ("kuavo_4pro_long", "kuavo_4pro_short"):
        model = load_model(JOINT_SPACE[name].description)
        at = [model.joint_names.index(j.urdf) for arm in JOINT_SPACE[name].arms for j in arm.joints]
        lo, hi = np.maximum(lo, model.lower[at]), np.minimum(hi, model.upper[at])
    t = np.linspace(0.0, 1.0, N)[:, None]
    out = np.zeros((N, 28))
    out[:, 12:26] = (lo + hi) / 2 + amplitude * (hi - lo) / 2 * np.sin(2.0 * np.pi * t + np.arange(14))
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
    raw, reasons = resolve_family(_raw(_joints(0.6), member), default_registry())
    assert raw.embodiment == member and not raw.hands.empty
    (note,) = reasons
    other = ({"kuavo_4pro_long", "kuavo_4pro_short"} - {member}).pop()
    assert note.startswith("robot family kuavo_4pro (Leju KUAVO 4 Pro: long arms") and f": {member}, by the" in note
    assert f"{member}: every joint within its limits" in note and f"{other}: every joint within its limits" in note
    figures = {
        m: float(note.split(f"{m}: FK vs the recorded end-effector poses p95 ")[1].split(" deg, ")[1].split(" mm")[0])
        for m in (member, other)
    }
    assert figures[member] < 1.0 and figures[other] > 10.0, figures  # mm
    result = canonicalize_spans(_raw(_joints(0.6), member))
    assert {ep.embodiment for ep in result.episodes} == {member}
    assert any(r.startswith("robot family kuavo_4pro") for r in result.episodes[0].tier_reasons)


@pytest.mark.parametrize(
    ("column", "value", "member", "past"),
    [
        (12 + 3, -2.0, "kuavo_4pro_long", "kuavo_4pro_short: zarm_l4_link recorded -2.000"),  # the long elbow
        (19 + 6, 1.2, "kuavo_4pro_short", "kuavo_4pro_long: zarm_r7_link recorded"),  # the short wrist
    ],
)
def test_a_joint_past_one_members_limits_tells_the_other(column: int, value: float, member: str, past: str) -> None:
    joints = _joints(0.6)
    joints[N // 2 :, column] = value
    raw, (note,) = resolve_family(_raw(joints, None), default_registry())
    assert raw.embodiment == member and f": {member}, by the recording" in note and past in note
    assert f"{member}: every joint within its limits" in note


def test_without_evidence_the_episode_keeps_its_natives_and_names_the_option() -> None:
    raw, (reason,) = resolve_family(_raw(_joints(0.6), None), default_registry())
    assert raw.embodiment == "unknown"
    assert "rules out neither kuavo_4pro_long nor kuavo_4pro_short and holds no recorded end-effector pose" in reason
    assert "set `embodiment: kuavo_4pro_long` or `embodiment: kuavo_4pro_short`" in reason


def test_a_motion_either_arm_explains_tells_nothing() -> None:
    """Arms that barely move: the fitted transforms absorb the length difference, both fit, neither is taken."""
    raw, (reason,) = resolve_family(_raw(_joints(0.002), "kuavo_4pro_long"), default_registry())
    assert raw.embodiment == "unknown" and raw.hands.empty
    assert "rules out neither kuavo_4pro_long nor kuavo_4pro_short (" in reason and "natives only" in reason


def test_a_robot_that_is_no_family_passes_unchanged() -> None:
    raw = _raw(_joints(0.8), None)
    same, reasons = resolve_family(
        raw.__class__(**{**raw.__dict__, "embodiment": "kuavo_4pro_long"}), default_registry()
    )
    assert same.embodiment == "kuavo_4pro_long" and reasons == ()
