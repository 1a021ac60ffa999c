"""A recorded end-effector pose against FK of the same joints (`ingest.canonical.eef_agreement`).

The robot is the shipped AgileX Cobot Magic (`piper_dual`, aloha_new.urdf) with RoboCOIN's joint names
(`left_arm_joint_1_rad`, ...). The recorded pose is what a recorder in another frame would store: FK's wrist moved by
a constant base transform A (RoboCOIN's own origin) and a constant tool transform B (its EEF site, 0.12 m out and
turned), recorded = A·fk·B; the comparison must see through both and still catch a lag or a wrong joint.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream
from adapters.lerobot.poses import LAYOUTS, posed
from adapters.poses import se3
from ingest.canonical.eef_agreement import POS_TOL_M, ROT_TOL_DEG, fit_residuals, fk_agreement
from ingest.canonical.hand_state import wrist_poses
from ingest.canonical.joint_space import joint_space_signals
from schemas.canonicalize import CanonicalizeSpec
from schemas.pose_agreement import compared
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepare

NAMES = tuple(f"{side}_arm_joint_{i}_rad" for side in ("left", "right") for i in range(1, 7))
FPS = 30.0
A = se3(Rotation.from_euler("xyz", [0.05, -0.1, 0.4]).as_matrix(), np.array([0.24, 0.0, 0.78]))
B = se3(Rotation.from_euler("xyz", [0.3, 0.2, -0.5]).as_matrix(), np.array([0.0, 0.02, 0.12]))


def _joints(n: int = 90, lag: int = 0) -> np.ndarray:
    t = (np.arange(n) + lag)[:, None] / FPS
    return 0.35 * np.sin(2 * np.pi * 0.4 * t + np.arange(12)[None, :]) + 0.4 * (np.arange(12)[None, :] % 6 == 2)


def _raw(q: np.ndarray, embodiment: str = "piper_dual") -> RawEpisode:
    ref = EpisodeRef(adapter="lerobot", source="lerobot", subset="rc", raw_id="episode_000000", paths=(), locator={})
    ts = np.arange(len(q)) / FPS
    return RawEpisode(
        ref=ref,
        robot_type="agilex_cobot_magic",
        embodiment=embodiment,
        tier=QualityTier.high,
        native_fps=FPS,
        states={"observation.state": Stream(ts, q.astype(np.float32), NAMES)},
    )


def _fk_wrists(q: np.ndarray) -> dict[int, Stream]:
    spec = default_registry().get("piper_dual").joint_space
    sig = joint_space_signals(_raw(q), spec).signals
    return {hand: wrist_poses(track) for hand, track in sig.hands.items()}


def _recorded(q_recorded: np.ndarray, q_joints: np.ndarray) -> tuple[RawEpisode, dict[int, Stream]]:
    """An episode whose joints are `q_joints` and whose recorded wrists are A·FK(`q_recorded`)·B."""
    wrists = {h: Stream(w.timestamps, A @ w.values @ B, unit="se3_4x4") for h, w in _fk_wrists(q_recorded).items()}
    raw = replace(_raw(q_joints), hands=HandSignals(hands={h: HandTrack(rotation=w) for h, w in wrists.items()}))
    return raw, wrists


def test_the_same_motion_in_other_frames_agrees() -> None:
    q = _joints()
    raw, wrists = _recorded(q, q)
    verdicts = fk_agreement(raw, default_registry().get("piper_dual"), wrists)
    notes = [v.reason for v in verdicts]
    assert [n.split(":")[0] for n in notes] == ["recorded EEF vs FK (piper_dual", "recorded EEF vs FK (piper_dual"]
    assert [a.agree for a in compared(verdicts)] == [True, True]  # the figures go with each note (issue 97)
    assert all(", left: agree" in n or ", right: agree" in n for n in notes), notes
    rot, pos = fit_residuals(wrists[0].values, _fk_wrists(q)[0].values)
    assert rot.max() < 1e-4 and pos.max() < 1e-6  # A and B fitted away exactly


def test_a_lag_or_a_wrong_joint_disagrees() -> None:
    q = _joints()
    lagged, _ = _recorded(_joints(lag=6), q)  # the pose 0.2 s ahead of the joints
    flipped = q.copy()
    flipped[:, 1] *= -1  # the left shoulder's sign read the other way
    wrong, _ = _recorded(flipped, q)
    emb = default_registry().get("piper_dual")
    for raw in (lagged, wrong):
        wrists = {h: wrist_poses(t) for h, t in raw.hands.hands.items()}
        said = next(v for v in fk_agreement(raw, emb, wrists) if ", left:" in v.reason)
        left = said.reason
        assert ", left: disagree" in left and "check the joint mapping" in left, left
        [found] = compared([said])
        assert not found.agree and f"position residual median {found.pos_p50_mm:.1f} mm" in left
    wrists = {h: wrist_poses(t) for h, t in wrong.hands.hands.items()}
    right = next(v.reason for v in fk_agreement(wrong, emb, wrists) if ", right:" in v.reason)
    assert ", right: agree" in right  # only the left arm's joint was wrong


def test_nothing_to_compare_without_a_description_or_resolvable_joints() -> None:
    q = _joints()
    raw, wrists = _recorded(q, q)
    assert fk_agreement(raw, default_registry().get("robocoin_unified"), wrists) == []
    # no joint of the description recorded (an OXE Franka's pose alone): nothing to compare, nothing said
    unnamed = replace(raw, states={"observation.state": Stream(raw.states["observation.state"].timestamps, q)})
    assert fk_agreement(unnamed, default_registry().get("piper_dual"), wrists) == []
    # joints found but in no unit that gives angles: said
    ticks = replace(
        raw, states={"observation.state": Stream(raw.states["observation.state"].timestamps, q * 1e4, NAMES)}
    )
    [left, *_] = [v.reason for v in fk_agreement(ticks, default_registry().get("piper_dual"), wrists)] or [""]
    assert "not compared, the joints do not reach FK" in left, left


EEF_STATE = "eef_sim_pose_state"
EEF_NAMES = tuple(f"{side}_eef_{q}_{a}" for side in ("left", "right") for q in ("pos", "ori") for a in "xyz")


def test_robocoin_unified_eef_of_a_described_robot_is_checked_when_canonicalized() -> None:
    """The whole path: RoboCOIN's eef_sim_pose_state (Euler xyz, its own frame and site) as the hands of a
    `piper_dual` episode; the verdict is in the written episode's tier reasons, the tier not lowered by it."""
    q = _joints()
    fk = _fk_wrists(q)
    cols = []
    for hand in (0, 1):
        T = A @ fk[hand].values @ B
        cols += [T[:, :3, 3], Rotation.from_matrix(T[:, :3, :3]).as_euler("xyz")]
    pose = Stream(fk[0].timestamps, np.hstack(cols).astype(np.float32), EEF_NAMES)  # RoboCOIN's names
    raw = posed(replace(_raw(q), signals={EEF_STATE: pose}), "robocoin_unified", LAYOUTS["robocoin_unified"], None)
    assert raw.embodiment == "piper_dual" and sorted(raw.hands.hands) == [0, 1]
    [ep] = prepare(raw, CanonicalizeSpec()).episodes
    verdicts = [r for r in ep.tier_reasons if r.startswith("recorded EEF vs FK")]
    assert len(verdicts) == 2 and all(": agree," in v for v in verdicts), verdicts
    assert ep.tier == QualityTier.high
    # float32 storage is the only difference: far inside the tolerances
    assert all(f"tolerance {ROT_TOL_DEG:g})" in v and f"tolerance {POS_TOL_M * 1000:g})" in v for v in verdicts)
