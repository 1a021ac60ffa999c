"""prepared() as a whole, on hand-built raw episodes: properties, not the formulas again."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import EpisodeRef, HandSignals, HandTrack, Language, RawEpisode, Stream
from adapters.egodex.adapter import hand_signals as egodex_hand_signals
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.columns import hand_signals as lerobot_hand_signals
from adapters.oxe.hands import hand_signals as oxe_hand_signals
from adapters.synthetic.hand import hand_layout
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.frames import rot6d_to_matrix
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, MANO21_NAMES, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.lerobot import ActionSegment
from schemas.tiers import QualityTier, TierVerdict
from tests.fixtures.offline import prepare, prepared
from tests.realdata import realdata

R = 1  # the right hand


def _oxe_raw(
    t: np.ndarray,
    xyz: np.ndarray,
    rpy: np.ndarray,
    grip: np.ndarray,
    *,
    subset: str = "kuka",
    success: bool | None = None,
    embodiment: str = "kuka_iiwa",
) -> RawEpisode:
    ref = EpisodeRef(adapter="oxe", source="oxe", subset=subset, raw_id="ep0", paths=("x.tfrecord",))
    states = {
        "observation/state:eef_xyz": Stream(t, xyz, unit="m", frame="robot_base"),
        "observation/state:eef_rpy": Stream(t, rpy, unit="rad", frame="robot_base"),
        "observation/state:gripper": Stream(t, grip[:, None], names=("gripper_open",), unit="0..1"),
    }
    return RawEpisode(
        ref=ref,
        robot_type="x",
        embodiment=embodiment,
        tier=QualityTier.high,
        native_fps=None,
        states=states,
        language=[Language("pick the block")],
        success=success,
        hands=oxe_hand_signals(states),
    )


def _reach(n: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(n) / fps
    s = np.linspace(0, 1, n)[:, None]
    xyz = np.array([0.4, -0.1, 0.3]) + s * np.array([0.15, 0.2, -0.15])
    rpy = np.column_stack([np.full(n, np.pi), np.zeros(n), 0.6 * s[:, 0]])
    grip = np.where(s[:, 0] < 0.6, 1.0, 0.2)
    return t, xyz, rpy, grip


def test_a_10hz_source_keeps_its_values() -> None:
    t, xyz, rpy, grip = _reach(40, 10.0)
    [ep] = prepared(_oxe_raw(t, xyz, rpy, grip))
    assert ep.num_frames == 40 and not ep.interpolated.any()
    np.testing.assert_allclose(ep.state[:, hand_dims(R, WRIST_POS)], xyz, atol=1e-6)  # kuka: unknown point, no offset
    rot = rot6d_to_matrix(ep.state[:, hand_dims(R, WRIST_ROT6D)])
    np.testing.assert_allclose(rot, Rotation.from_euler("xyz", rpy).as_matrix(), atol=1e-5)
    np.testing.assert_allclose(ep.state[:, hand_dims(R, GRIPPER)].ravel(), grip, atol=1e-6)
    assert not ep.state[:, hand_dims(0, slice(0, 25))].any()  # the absent left hand stays zero


def test_actions_are_deltas_that_rebuild_the_trajectory() -> None:
    t, xyz, rpy, grip = _reach(30, 10.0)
    [ep] = prepared(_oxe_raw(t, xyz, rpy, grip))
    pos = ep.state[:, hand_dims(R, WRIST_POS)]
    rebuilt = pos[0] + np.cumsum(ep.action[:-1, hand_dims(R, WRIST_POS)], axis=0)
    np.testing.assert_allclose(rebuilt, pos[1:], atol=1e-5)
    np.testing.assert_allclose(ep.action[:-1, hand_dims(R, GRIPPER)], ep.state[1:, hand_dims(R, GRIPPER)])


def test_tcp_offset_applied_only_where_the_dataset_records_the_tcp() -> None:
    """bridge records the WidowX TCP: its canonical wrist sits behind it; kuka's recorded point is unknown."""
    t, xyz, rpy, grip = _reach(20, 10.0)
    [bridge] = prepared(_oxe_raw(t, xyz, rpy, grip, subset="bridge", embodiment="widowx"))
    [kuka] = prepared(_oxe_raw(t, xyz, rpy, grip, subset="kuka", embodiment="kuka_iiwa"))
    moved = np.linalg.norm(bridge.state[:, hand_dims(R, WRIST_POS)] - xyz, axis=1)
    np.testing.assert_allclose(moved, 0.093575, atol=1e-5)  # a rigid offset: the same distance every frame
    np.testing.assert_allclose(kuka.state[:, hand_dims(R, WRIST_POS)], xyz, atol=1e-6)
    assert "TCP" in bridge.eef_offset and "no offset" in kuka.eef_offset


def test_up_sampling_flags_and_native_rate() -> None:
    t, xyz, rpy, grip = _reach(16, 5.0)  # 3 s at 5 Hz
    [ep] = prepared(_oxe_raw(t, xyz, rpy, grip))
    assert ep.num_frames == 31
    assert ep.interpolated.tolist() == [k % 2 == 1 for k in range(31)]
    np.testing.assert_allclose(ep.state[::2, hand_dims(R, WRIST_POS)], xyz, atol=1e-6)  # the real samples survive


def test_a_long_gap_splits_the_episode() -> None:
    t, xyz, rpy, grip = _reach(40, 10.0)
    t = np.where(t >= 2.0, t + 3.0, t)  # 3 s without samples after 2 s
    eps = prepared(_oxe_raw(t, xyz, rpy, grip), CanonicalizeSpec(min_episode_s=1.0))
    assert [ep.num_frames for ep in eps] == [20, 20]
    assert eps[0].uid.endswith("#span0") and eps[1].uid.endswith("#span1")
    assert eps[1].span_s[0] >= 5.0


def test_gaps_that_leave_no_part_long_enough_are_the_rejection_s_named_cause() -> None:
    t, xyz, rpy, grip = _reach(10, 10.0)
    t = t * 6  # a sample every 0.6 s: every interval is a gap
    out = prepare(_oxe_raw(t, xyz, rpy, grip), CanonicalizeSpec(max_gap_s=0.5, min_episode_s=1.0))
    assert not out.episodes
    assert out.rejection_message().endswith(
        "span [0.00, 5.40] s rejected: 10 part(s) shorter than canonicalize.min_episode_s 1.0 s between 9 gap(s) longer"
        " than canonicalize.max_gap_s 0.5 s (the longest 0.600 s)"
    )


def test_the_parts_gaps_leave_too_short_beside_kept_spans_are_a_tagged_rejection() -> None:
    """Parts too short beside kept spans come back as one rejection tagged `#short` (the worker writes it as its own
    quarantine row beside the kept episodes), never a silent drop; the kept episodes' reasons stay their own."""
    t, xyz, rpy, grip = _reach(40, 10.0)
    t = np.where(t >= 2.0, t + 3.0, t)  # 2 s, a 3 s gap, 2 s
    t = np.append(t, [t[-1] + 1.0, t[-1] + 2.0])  # a lone sample between two more gaps, then a last one
    xyz, rpy, grip = (np.concatenate([v, v[-2:]]) for v in (xyz, rpy, grip))
    out = prepare(_oxe_raw(t, xyz, rpy, grip), CanonicalizeSpec(min_episode_s=1.0))
    assert [ep.num_frames for ep in out.episodes] == [20, 20]
    [short] = out.rejections
    assert short.tag == "#short" and short.reason.startswith(
        "2 part(s) shorter than canonicalize.min_episode_s 1.0 s between 3 gap"
    )
    assert not any(short.note in ep.tier_reasons for ep in out.episodes)


def test_a_long_gap_can_invalidate_instead() -> None:
    t, xyz, rpy, grip = _reach(40, 10.0)
    t = np.where(t >= 2.0, t + 3.0, t)
    spec = CanonicalizeSpec(gap_policy="invalidate", min_episode_s=1.0)
    eps = prepared(_oxe_raw(t, xyz, rpy, grip), spec)
    assert [ep.num_frames for ep in eps] == [20, 20]  # the 30 grid frames strictly inside (1.9, 5.0) s are dropped
    assert all(np.isfinite(ep.state).all() for ep in eps)
    assert eps[0].validity["non_finite"] == 30


def test_failure_flag_demotes_with_a_reason() -> None:
    t, xyz, rpy, grip = _reach(30, 10.0)
    [ep] = prepared(_oxe_raw(t, xyz, rpy, grip, success=False))
    assert ep.tier is QualityTier.low and any("success=False" in r for r in ep.tier_reasons)


def test_a_teleport_is_cut_out() -> None:
    t, xyz, rpy, grip = _reach(60, 10.0)
    xyz = xyz.copy()
    xyz[30] += 5.0  # one frame five metres away: tracking glitch
    eps = prepared(_oxe_raw(t, xyz, rpy, grip))
    assert len(eps) == 2 and sum(ep.num_frames for ep in eps) < 60
    assert all(np.abs(ep.state[:, hand_dims(R, WRIST_POS)]).max() < 2 for ep in eps)


def _human_raw(n: int, camera_moves: bool) -> RawEpisode:
    """A still right hand (keypoints fixed in the world) filmed by a head camera that walks and turns."""
    t = np.arange(n) / 30.0
    rng = np.random.default_rng(0)
    hand = np.zeros((21, 3))
    hand[1:] = rng.normal(0, 0.01, (20, 3)) + np.array([0.0, 0.0, 0.08]) * (np.arange(1, 21)[:, None] % 4 + 1) / 4
    hand[9] = [0.0, 0.0, 0.09]  # middle knuckle: the wrist z axis
    hand[5], hand[17] = [0.02, 0.0, 0.085], [-0.02, 0.0, 0.075]  # index1, pinky1: the palm plane
    kp = np.zeros((n, 2, 21, 3))
    kp[:, 1] = hand + np.array([0.3, 1.0, -0.4])
    cam = np.tile(np.eye(4), (n, 1, 1))
    if camera_moves:
        cam[:, :3, :3] = Rotation.from_euler("y", np.linspace(0, 0.8, n)[:, None]).as_matrix()
        cam[:, :3, 3] = np.column_stack([np.linspace(0, 0.5, n), np.full(n, 1.6), np.zeros(n)])
    ref = EpisodeRef(adapter="egodex", source="egodex", subset="part1", raw_id="task/0", paths=("0.hdf5",))
    states = {"mano21_keypoints": Stream(t, kp.astype(np.float32), unit="m", frame="arkit_world")}
    camera = Stream(t, cam, unit="se3_4x4", frame="arkit_world")
    return RawEpisode(
        ref=ref,
        robot_type=None,
        embodiment="human",
        tier=QualityTier.high,
        native_fps=30.0,
        states=states,
        camera_poses={"camera": camera},
        language=[Language("hold still")],
        hands=egodex_hand_signals(states, camera),
    )


def test_camera_motion_does_not_appear_as_hand_motion() -> None:
    spec = CanonicalizeSpec(validity={"min_hand_motion_m": 0.0})
    [moving] = prepared(_human_raw(60, camera_moves=True), spec)
    assert moving.mask[hand_dims(R, FINGERTIPS_XYZ)].all()
    np.testing.assert_allclose(moving.action[:-1, hand_dims(R, WRIST_POS)], 0.0, atol=1e-6)
    np.testing.assert_allclose(moving.action[:, hand_dims(R, WRIST_ROT6D)], [[1, 0, 0, 0, 1, 0]] * 20, atol=1e-6)
    cols = [moving.natives.state_names.index(f"camera.{a}") for a in "xyz"]
    cam = moving.natives.state[:, cols]  # the camera trajectory itself is kept, in the decoupled frame
    np.testing.assert_allclose(cam[0], 0.0, atol=1e-6)  # the reference sits at the first camera position
    assert np.linalg.norm(cam[-1] - cam[0]) > 0.3


def test_static_human_hands_are_removed() -> None:
    assert prepared(_human_raw(90, camera_moves=True)) == []  # default: fragments without hand motion go


def test_action_config_segments_are_rescaled_to_10hz() -> None:
    t, xyz, rpy, grip = _reach(90, 30.0)
    segments = [
        ActionSegment(start_frame=0, end_frame=45, action_text="reach"),
        ActionSegment(start_frame=45, end_frame=90, action_text="grasp"),
    ]
    raw = replace(_oxe_raw(t, xyz, rpy, grip), native_fps=30.0, action_config=segments)
    [ep] = prepared(raw)
    assert [(s.start_frame, s.end_frame, s.action_text) for s in ep.action_config] == [
        (0, 15, "reach"),
        (15, 30, "grasp"),
    ]


def test_nan_frames_of_a_canonical_source_are_cut_not_masked(tmp_path) -> None:
    """A NaN inside an already-canonical state must be flagged by validity, not hide its whole dimension."""
    import adapters
    from jobs.demo.robot import run_demo

    root = run_demo(tmp_path, episodes=1).root
    adapter = adapters.get_adapter("lerobot")
    raw = adapter.read(next(iter(adapter.discover(root))))
    state = raw.states["observation.state"]
    values = state.values.copy()
    values[10, 25] = np.nan  # right wrist x at frame 10
    states = {k: s for k, s in raw.states.items() if k != "observation.state.native"}
    states["observation.state"] = Stream(state.timestamps, values, state.names, state.unit, state.frame)
    # the adapter's declaration, over the edited stream
    raw = replace(raw, states=states, hands=lerobot_hand_signals(states, raw.actions))
    eps = prepared(raw)
    assert eps and eps[0].mask[hand_dims(R, WRIST_POS)].all()  # the dim stays real
    assert all(np.isfinite(ep.state).all() for ep in eps)
    assert sum(ep.num_frames for ep in eps) < len(values)  # the NaN frame was cut
    assert eps[0].validity["non_finite"] >= 1


def _two_spans(short_first: bool) -> RawEpisode:
    """40 samples at 10 Hz with a 3 s hole: a 1.5 s span and a 2.5 s span, the short one first or last."""
    t, xyz, rpy, grip = _reach(40, 10.0)
    cut = 1.5 if short_first else 2.5
    return _oxe_raw(np.where(t >= cut, t + 3.0, t), xyz, rpy, grip)


def test_a_rejected_span_comes_back_as_a_value_and_the_raw_episode_is_left_alone() -> None:
    """The short span is too short for validity (15 frames < 20) and the long one is kept, whichever comes first:
    the rejection is one record with its span and reason, the kept episode's tier reasons are the same either way
    (before issue 26 a kept span after a rejected one carried the rejection note, one before it did not), and the
    caller's `RawEpisode` keeps its own reasons untouched."""
    spec = CanonicalizeSpec(min_episode_s=1.0, validity={"min_length_frames": 20})
    kept = {}
    for short_first in (True, False):
        raw = replace(_two_spans(short_first), verdicts=(TierVerdict.note("the adapter's own note"),))
        out = prepare(raw, spec)
        assert raw.verdicts == (TierVerdict.note("the adapter's own note"),)
        [rejection] = out.rejections
        assert rejection.reason.startswith("episode too short: 15 frames")
        assert rejection.tag == ("#span0" if short_first else "#span1")  # its own quarantine row beside the kept
        assert (rejection.start_s == 0.0) is short_first
        [ep] = out.episodes
        assert ep.uid.endswith("#span1" if short_first else "#span0") and ep.num_frames == 25
        assert not any("rejected" in r for r in ep.tier_reasons), ep.tier_reasons
        assert ep.tier_reasons[0] == "the adapter's own note"
        kept[short_first] = ep.tier_reasons
        assert out.reasons == ("the adapter's own note",)
    assert kept[True] == kept[False]


def test_when_every_span_is_rejected_the_message_names_each() -> None:
    spec = CanonicalizeSpec(min_episode_s=1.0, validity={"min_length_frames": 30})
    out = prepare(_two_spans(short_first=True), spec)
    assert out.episodes == () and len(out.rejections) == 2
    message = out.rejection_message()
    assert message.count("rejected: episode too short") == 2 and message.startswith("span [0.00, 1.40] s rejected")
    assert prepared(_two_spans(short_first=True), spec) == []


def _fingerprint(raw: RawEpisode) -> dict:
    """Everything of a raw episode a step could change in place, as plain values (arrays copied)."""
    streams = {**raw.states, **raw.actions, **raw.signals, **raw.outcomes, **raw.camera_poses}
    return {
        "fields": {k: getattr(raw, k) for k in ("tier", "verdicts", "annotation", "derived", "joint_space")},
        "metadata": json.dumps(raw.metadata, default=str, sort_keys=True),
        "keys": [
            sorted(d) for d in (raw.states, raw.actions, raw.signals, raw.outcomes, raw.camera_poses, raw.cameras)
        ],
        "streams": {k: (s.timestamps.copy(), s.values.copy()) for k, s in streams.items()},
        "hands": (sorted(raw.hands.hands), list(raw.hands.notes), raw.hands.native_state_keys, raw.hands.empty),
        "findings": list(raw.findings),
    }


def test_the_callers_raw_episode_is_left_as_it_came_on_the_real_gr1_sample() -> None:
    """The real GR00T GR1 episode (joint space: FK, a unit decision, native limits): canonicalization hands its
    findings back on the episodes, and the caller's `RawEpisode` is the same after as before (before issue 39 its
    metadata gained `joint_units` and `native_joint_limits`); a step that tried to change it would fail (frozen)."""
    source = LeRobotSource()
    raw = source.read(next(iter(source.discover(realdata("gr00t_robot_sim_picknplace")))))
    before = _fingerprint(raw)
    out = prepare(raw)
    after = _fingerprint(raw)
    streams = before.pop("streams"), after.pop("streams")
    assert after == before
    for k, (t, v) in streams[0].items():
        assert np.array_equal(streams[1][k][0], t) and np.array_equal(streams[1][k][1], v, equal_nan=True), k
    [ep] = out.episodes
    assert ep.joint_units is not None and ep.joint_units.unit == "rad" and ep.joint_units.fk
    assert ep.native_limits and all(lo < hi for lo, hi in ep.native_limits.values())
    with pytest.raises(FrozenInstanceError):
        raw.verdicts = ()  # type: ignore[misc]


def _hand_on_its_clock(t: np.ndarray, side: str) -> Stream:
    """MANO-21 keypoints of a synthetic hand on its own side, its wrist sweeping 10 cm, sampled at `t`."""
    layout = np.stack([hand_layout(side)[k] for k in MANO21_NAMES])
    wrist = np.column_stack([0.4 + 0.1 * np.sin(2 * t), np.full(len(t), 0.2 if side == "left" else -0.2), 0.1 * t])
    return Stream(t, wrist[:, None] + layout, names=MANO21_NAMES, unit="m", frame="world")


def test_human_hands_on_their_own_clocks_are_kept_each_over_its_window() -> None:
    """HOT3D annotates a hand only where it was seen: the left over 0..6 s, the right from 2 s with a 1-s hole at
    3..4 s. Each hand is valid over its own samples, the episode runs 0..6 s whole, 61 frames (before, it was cut to
    the common span 2..6 s and split at the right hand's hole: episodes of 11 and 21 frames, 2..3 s and 4..6 s)."""
    t = np.arange(0, 6 + 1e-9, 1 / 30)
    right_t = t[(t >= 2 - 1e-9) & ~((t > 3 + 1e-9) & (t < 4 - 1e-9))]
    sig = HandSignals(
        hands={
            0: HandTrack(keypoints=_hand_on_its_clock(t, "left")),
            1: HandTrack(keypoints=_hand_on_its_clock(right_t, "right")),
        },
        frame="world",
        apply_offset=False,
    )
    ref = EpisodeRef(adapter="hot3d", source="hot3d", subset="aria", raw_id="P0001_x", paths=("P0001_x",))
    raw = RawEpisode(ref=ref, robot_type=None, embodiment="human", tier=QualityTier.high, native_fps=30.0, hands=sig)
    (ep,) = prepared(raw)
    grid = np.arange(61) / 10
    assert ep.num_frames == 61 and ep.hand_valid[:, 0].all()
    np.testing.assert_array_equal(ep.hand_valid[:, 1], (grid >= 2 - 1e-9) & ~((grid > 3 + 1e-6) & (grid < 4 - 1e-6)))
    assert not ep.keypoints[~ep.hand_valid[:, 1], 1].any() and not ep.interpolated.any()
    np.testing.assert_allclose(ep.keypoints[ep.hand_valid[:, 1], 1, 0, 1], -0.2, atol=1e-9)  # its own values


def _span_notes(raw: RawEpisode, sensor_until_s: float) -> tuple[int, list[str]]:
    """(frames, canonical_span notes) of `raw` beside a force sensor at 20 Hz from 0 s to `sensor_until_s`."""
    t = np.arange(0.0, sensor_until_s + 1e-9, 0.05)
    [ep] = canonicalize_spans(replace(raw, signals={"force": Stream(t, np.ones((len(t), 3)))})).episodes
    return len(ep.timestamps), [v.reason for v in ep.verdicts if v.code == "canonical_span"]


def test_a_span_cut_shorter_than_the_recording_says_the_seconds_kept_and_why() -> None:
    """Issue 97: the real Franka bag's 59.5 s were cut to the 22 s of the JointState its forward kinematics followed,
    and nothing said so. A wrist over 0..3.9 s beside a force sensor over 0..10 s: the span is the wrist's (the hands
    set it), and a note says the seconds kept, the recording's and what set the span; a sensor ending within
    max_gap_s of the wrist cuts nothing worth a word."""
    raw = _oxe_raw(*_reach(40, 10.0))
    frames, [note] = _span_notes(raw, 10.0)
    assert frames == 40
    assert note.startswith("span cut: 0.00..3.90 s kept of the recording's 0.00..10.00 s (3.9 of 10.0 s): the common")
    assert "span of the streams the hands are built from" in note
    assert _span_notes(raw, 4.3) == (40, [])
