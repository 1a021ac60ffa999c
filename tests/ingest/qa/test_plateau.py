"""Readings held while commanded (`ingest.qa.plateau`) on the real GR00T PickNPlace arm: the clean arm joints
never read one value while their command moves; a joint clipped at one value inside its range (35 % of its frames,
state only) is found with the value and where; a joint held at its limit, a joint whose command holds too, and hands
are not judged; one arm's stream frozen while it moves is a frozen stream, a resting arm held is not."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ingest.episode import CanonicalEpisode
from ingest.qa.phase import _moving, _pairs
from ingest.qa.plateau import channel_plateau, frozen_stream, worst_plateau
from ingest.qa.signals import Channel, native_channels
from schemas.behaviour import BehaviourConfig
from tests.ingest.qa.planted_raw import gr00t_raws
from tests.ingest.qa.real_signals import GR1_RIGHT_ARM, canonical, clamp, with_state

CFG = BehaviourConfig()
ELBOW = "state.right_arm.motor_25"  # column 3 of the right arm stream


@functools.cache
def episodes() -> list[CanonicalEpisode]:
    return [canonical(r) for r in gr00t_raws()]


def channels(ep: CanonicalEpisode) -> dict[str, Channel]:
    return {c.name: c for c in native_channels(ep, _pairs(ep))}


def test_clean_real_arm_joints_hold_nothing_while_commanded() -> None:
    for ep in episodes():
        chans = channels(ep)
        judged = [channel_plateau(c, _moving(ep, None), CFG) for c in chans.values()]
        assert sum(p is not None for p in judged) == 14  # the description's arm joints; hands have no limits
        assert worst_plateau(list(chans.values()), _moving(ep, None), CFG).fraction == 0.0


def test_a_clamp_inside_the_range_is_found_with_its_value() -> None:
    raw = gr00t_raws()[1]
    planted, top = clamp(raw, GR1_RIGHT_ARM, 3)
    ep = canonical(planted)
    p = worst_plateau(list(channels(ep).values()), _moving(ep, None), CFG)
    assert p.signal == ELBOW and p.value == pytest.approx(top, abs=1e-6)
    # 35 % of the frames planted; measured over the moving frames, held runs of 0.5 s or more
    assert 0.25 < p.fraction < 0.45 and p.fraction > CFG.plateau_fraction_low
    held = np.flatnonzero(ep.natives.state[:, ep.natives.state_names.index(ELBOW)] == np.float32(top))
    assert p.frame in held


def test_held_at_its_limit_or_with_its_command_or_too_short_is_no_plateau() -> None:
    ep = episodes()[1]
    ch = channels(ep)[ELBOW]
    moving = _moving(ep, None)
    x, lo = ch.values[:, 0], ch.limits[0]
    top = np.quantile(x, 0.65)
    clamped = np.minimum(x, top)[:, None]
    assert channel_plateau(Channel(ch.name, clamped, "rad", ch.command, ch.limits), moving, CFG).fraction > 0.25
    # at the description's limit: the saturation check's (the limit moved to the clamp)
    at_limit = Channel(ch.name, clamped, "rad", ch.command, (lo, float(top)))
    assert channel_plateau(at_limit, moving, CFG).fraction == 0.0
    # the command holds with it (the operator keeps the joint still, the follower reads it): a resting joint
    still = Channel(ch.name, clamped, "rad", clamped[:, 0], ch.limits)
    assert channel_plateau(still, moving, CFG).fraction == 0.0
    # held runs shorter than plateau_min_s do not count
    short = x.copy()
    for a in range(0, len(x) - 4, 8):
        short[a : a + 3] = short[a]
    assert channel_plateau(Channel(ch.name, short[:, None], "rad", ch.command, ch.limits), moving, CFG).fraction == 0
    hand = channels(ep)["state.right_hand.motor_30"]
    assert channel_plateau(hand, moving, CFG) is None  # no limits: a finger stops on what it grasps


def test_one_arm_frozen_while_commanded_is_a_frozen_stream_a_resting_one_is_not() -> None:
    """The real GR00T right arm stream held at one row for 1.5 s where it moves, the seven other streams recording:
    the whole-row frozen check cannot see it (the rest moves); held while its command moves, it is a frozen stream."""
    for ep in episodes():
        f = frozen_stream(list(channels(ep).values()), CFG)
        assert f is not None and f.seconds < CFG.frozen_stream_s_low, f  # clean: 0 s (measured)
    raw = gr00t_raws()[0]
    v = raw.states[GR1_RIGHT_ARM].values.astype(np.float64).copy()
    travel = np.abs(np.diff(v, axis=0)).sum(axis=1)
    a = int(np.argmax(np.convolve(travel, np.ones(30), mode="valid")))  # where the arm travels farthest in 1.5 s
    v[a : a + 30] = v[a]
    ep = canonical(with_state(raw, GR1_RIGHT_ARM, v))
    f = frozen_stream(list(channels(ep).values()), CFG)
    assert f.signal.startswith("state.right_arm") and f.seconds == pytest.approx(1.5, abs=0.2) and f.frame > 0
    # the resting left arm held as long: its command holds too, nothing recorded is wrong
    v = raw.states["state.left_arm"].values.astype(np.float64).copy()
    v[a : a + 30] = v[a]
    ep = canonical(with_state(raw, "state.left_arm", v))
    assert frozen_stream(list(channels(ep).values()), CFG).seconds < CFG.frozen_stream_s_low


def test_a_clamp_of_state_and_command_is_found_and_the_clean_arms_have_none() -> None:
    """A software limit narrower than the robot's: the elbow's state AND its command clipped at one value inside its
    limits. No hold check sees it (the command holds too); `qa_clamp_fraction` does, and no clean episode has one."""
    from dataclasses import replace

    from ingest.qa.findings import episode_findings

    for ep in episodes():
        assert (ep.behaviour.clamp_fraction or 0.0) == 0.0
        assert not [r for r in ep.tier_reasons if r.startswith("qa_")]
    raw = gr00t_raws()[1]
    planted, top = clamp(raw, GR1_RIGHT_ARM, 3)
    act = "action.right_arm"
    a = planted.actions[act].values.astype(np.float64).copy()
    a[:, 3] = np.minimum(a[:, 3], top)
    cut = replace(planted.actions[act], values=a.astype(planted.actions[act].values.dtype))
    actions = {**planted.actions, act: cut}
    ep = canonical(replace(planted, actions=actions))
    r = ep.behaviour
    assert r.clamp_signal == ELBOW and r.clamp_value == pytest.approx(top, abs=1e-6)
    assert r.clamp_fraction > CFG.clamp_fraction_low and (r.plateau_fraction or 0.0) <= CFG.plateau_fraction_low
    assert "qa_clamp_fraction" in {f.code for f in episode_findings(r, CFG)} and ep.tier == "low"
