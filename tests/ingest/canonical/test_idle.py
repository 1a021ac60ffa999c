"""Idle start and end: measured in seconds and trimmed to `idle_keep_s` of settling; on the natives when an episode
has no canonical dim in use."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from adapters.lerobot.adapter import LeRobotSource
from ingest.canonical.idle import episode_idle, idle_behaviour, idle_cut
from ingest.canonical.limits import DimLimits, canonical_limits
from schemas.behaviour import BehaviourConfig
from schemas.canonical import STATE_NAMES
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepared
from tests.realdata import realdata

LIM = DimLimits(np.array([-1.0]), np.array([1.0]), ("rad",))


def test_idle_ends_measured_and_trimmed() -> None:
    move = np.linspace(0.0, 0.8, 50)
    q = np.concatenate([np.zeros(30), move, np.full(40, 0.8)])[:, None]
    idle = idle_behaviour(q, 10.0, LIM, BehaviourConfig(idle_keep_s=0.5))
    # tolerance 1% of the 2 rad range = 0.02 rad; the ramp steps 0.8 / 49 = 0.0163 rad: frame 32 (two steps in) is the
    # first past it, frame 77 (two steps before the end pose) the last
    assert (idle.idle_start_frames, idle.idle_end_frames) == (32, 119 - 77)
    assert (idle.trim_start, idle.trim_stop) == (32 - 5, 77 + 1 + 5)  # 0.5 s kept on each side
    assert idle.idle_fraction == (32 + 42) / 120
    default = idle_behaviour(q, 10.0, LIM, BehaviourConfig())  # 2 s kept by default
    assert (default.trim_start, default.trim_stop) == (32 - 20, 77 + 1 + 20)


def test_no_motion_is_all_idle_and_trim_off_keeps_everything() -> None:
    still = idle_behaviour(np.zeros((20, 1)), 10.0, LIM, BehaviourConfig())
    assert still.idle_fraction == 1.0
    q = np.concatenate([np.zeros(30), np.linspace(0, 0.8, 50)])[:, None]
    kept = idle_behaviour(q, 10.0, LIM, BehaviourConfig(idle_trim=False))
    assert (kept.trim_start, kept.trim_stop, kept.idle_start_s) == (0, 80, 3.2)


def test_without_a_canonical_dim_idle_is_measured_on_the_natives() -> None:
    """No canonical dim in use (joints that did not resolve): idle on the native columns that move, each against its
    own range; before, such an episode read all idle. A noisy column counts as motion (cautious), a column with NaN is
    left out, and canonical dims in use win over the natives."""
    none = DimLimits(np.zeros(2), np.zeros(2), ("other", "other"))  # canonical dims not in use
    joint = np.concatenate([np.full(30, 2048.0), np.linspace(2048, 2400, 50), np.full(40, 2400.0)])
    still = np.full(120, 7.0)
    natives = np.column_stack([joint, still, np.where(np.arange(120) == 5, np.nan, 1.0)])
    zeros = np.zeros((120, 2))
    assert idle_behaviour(zeros, 10.0, none, BehaviourConfig()).idle_fraction is None  # nothing measured
    idle = episode_idle(zeros, none, natives, BehaviourConfig(idle_keep_s=0.5))
    # tolerance 1 % of the joint's 352-step range in this episode; the ramp steps 7.2: frame 31, one step in, is the
    # first past it, frame 78, one step before the end pose, the last
    assert (idle.idle_start_frames, idle.idle_end_frames) == (31, 119 - 78)
    assert (idle.trim_start, idle.trim_stop) == (31 - 5, 78 + 1 + 5)
    noisy = np.column_stack([joint, 7.0 + 0.01 * np.random.default_rng(0).standard_normal(120)])
    assert episode_idle(zeros, none, noisy, BehaviourConfig()).idle_start_frames <= 1  # noise: no idle found
    q = np.concatenate([np.zeros(30), np.linspace(0.0, 0.8, 50), np.full(40, 0.8)])[:, None]
    assert episode_idle(q, LIM, np.zeros((120, 1)), BehaviourConfig()).idle_start_frames == 32
    assert episode_idle(zeros, none, None, BehaviourConfig()).idle_fraction is None


def test_no_state_measured_is_not_idle_and_a_still_state_is() -> None:
    """A camera-only episode (no canonical dim in use, no native state, or only native columns with NaN) has no state
    measured: its idle share is None and nothing is cut (before, it read 1.0, all idle, and its whole length an idle
    start). Native columns that never move are measured: all idle, as a canonical dim that never moves."""
    none = DimLimits(np.zeros(2), np.zeros(2), ("other", "other"))
    zeros, cfg = np.zeros((120, 2)), BehaviourConfig()
    blank, unused = np.zeros((120, len(STATE_NAMES))), np.zeros(len(STATE_NAMES), bool)
    for natives in (None, np.zeros((120, 0)), np.full((120, 2), np.nan)):
        idle = episode_idle(zeros, none, natives, cfg)
        assert (idle.idle_fraction, idle.idle_start_s, idle.trim_start, idle.trim_stop) == (None, 0.0, 0, 120)
        cut = idle_cut(blank, unused, cfg, natives=natives)
        assert cut.idle_fraction is None and not cut.cuts and cut.record()["idle_fraction"] is None
    still = np.column_stack([np.full(120, 2048.0), np.full(120, 7.0)])
    assert episode_idle(zeros, none, still, cfg).idle_fraction == 1.0
    assert idle_cut(blank, unused, cfg, natives=still).idle_fraction == 1.0
    assert episode_idle(np.zeros((120, 1)), LIM, None, cfg).idle_fraction == 1.0


def test_the_idle_share_judged_is_that_of_the_frames_kept() -> None:
    """A short grasp in a long recording: 60 s still, 1.5 s of a left-wrist move of 0.5 m, 60 s still. The recording
    is 99 % idle (0.9 s of it away from its first and last pose: the workspace's 10 m range makes the tolerance 0.1
    m); the cut keeps 2 s of each idle end beside that motion, so the 4.9 s written are 82 % idle and not called idle.
    A state that never moves stays all idle after the cut; with trimming off the kept frames are the recording's."""
    still = np.zeros(600)
    q = np.concatenate([still, np.linspace(0.0, 0.5, 15), still + 0.5])[:, None]
    cfg, mask = BehaviourConfig(), np.zeros(len(STATE_NAMES), bool)
    mask[0] = True
    state = np.zeros((len(q), len(STATE_NAMES)))
    state[:, 0] = q[:, 0]
    recorded = episode_idle(state, canonical_limits(mask), None, cfg).idle_fraction
    cut = idle_cut(state, mask, cfg)
    assert recorded is not None and recorded > 0.99 > cfg.idle_fraction_quarantine
    assert cut.stop - cut.start == 49 and cut.idle_fraction is not None
    assert cut.idle_fraction == ((cut.idle_start_s + cut.idle_end_s) * 10 - (len(q) - (cut.stop - cut.start))) / (
        cut.stop - cut.start
    )
    assert cut.idle_fraction == pytest.approx(40 / 49) and cut.idle_fraction < cfg.idle_fraction_quarantine
    assert idle_cut(state, mask, cfg.model_copy(update={"idle_trim": False})).idle_fraction == recorded
    assert idle_cut(np.zeros_like(state), mask, cfg).idle_fraction == 1.0


def test_the_real_gr00t_episodes_read_the_same_idle_on_their_natives() -> None:
    """The real GR00T sample's five episodes, once with their canonical dims (FK) and once read as an unknown robot
    (natives only): the same idle ends, 0.1 s at each (0.1 / 0.2 s at the end of episode 4 by the canonical dims)."""
    root = realdata("gr00t_robot_sim_picknplace")
    read = {}
    for options in ({}, {"embodiment": "unknown"}):
        source = LeRobotSource(options)
        eps = [ep for ref in source.discover(root) for ep in prepared(source.read(ref))]
        assert all(ep.mask.any() == (not options) and ep.behaviour is not None for ep in eps)
        read[bool(options)] = [(ep.behaviour.idle_start_s, ep.behaviour.idle_end_s) for ep in eps]  # type: ignore[union-attr]
    assert read[True] == [(0.1, 0.1)] * 5
    assert read[False] == [(0.1, 0.1)] * 4 + [(0.1, 0.2)]


def test_a_natives_only_episode_gets_idle_and_frozen_from_its_natives() -> None:
    """An unknown robot at 30 Hz (no canonical dim): its joints held still 2 s mid-episode are a frozen state, and
    its ends, where it moves, are not idle."""
    t = np.arange(150) / 30.0
    q = np.column_stack([np.sin(2 * t + i) for i in range(6)])
    q[40:100] = q[40]
    ref = EpisodeRef(adapter="x", source="x", subset="s", raw_id="e", paths=("p",))
    raw = RawEpisode(ref, None, "unknown", QualityTier.high, 30.0, states={"observation.state": Stream(t, q)})
    [ep] = prepared(raw)
    assert not ep.mask.any() and ep.behaviour is not None
    assert (ep.behaviour.state_frozen_s, ep.behaviour.idle_start_s, ep.behaviour.idle_end_s) == (2.0, 0.1, 0.1)
