"""Glitches (`ingest.qa.glitch`) on the real GR00T PickNPlace arm, canonicalized onto the 10 Hz grid: the clean
joints and wrists stay far below both bounds; a planted excursion is measured in its unit, its sigmas, its frame and
its length; what is not an excursion (a move that stays, a stretch longer than glitch_max_s, a finger the command
flicked) is not one."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ingest.episode import CanonicalEpisode
from ingest.frames import matrix_to_rot6d, rot6d_to_matrix
from ingest.qa.glitch import channel_glitch, worst_glitch
from ingest.qa.phase import _pairs
from ingest.qa.signals import Channel, canonical_channels, native_channels
from schemas.behaviour import BehaviourConfig
from tests.ingest.qa.planted_raw import gr00t_raws
from tests.ingest.qa.real_signals import canonical

CFG = BehaviourConfig()


@functools.cache
def episodes() -> list[CanonicalEpisode]:
    return [canonical(r) for r in gr00t_raws()]


def channel(ep: CanonicalEpisode, name: str) -> Channel:
    (ch,) = [c for c in [*canonical_channels(ep), *native_channels(ep, _pairs(ep))] if c.name == name]
    return ch


def planted(ch: Channel, frame: int, frames: int, delta: float) -> Channel:
    v = ch.values.copy()
    v[frame : frame + frames] += delta
    return Channel(ch.name, v, ch.unit, ch.command, ch.limits)


def test_clean_real_episodes_stay_below_both_bounds() -> None:
    """Every signal of the five real episodes: the worst scores at most 0.45 of a bound (measured: 0.15 rad of an arm
    joint, 0.03 m of a wrist, 11 sigmas; a resting hand's motor at 0.67 of its trend's range)."""
    for ep in episodes():
        chans = [*canonical_channels(ep), *native_channels(ep, _pairs(ep))]
        g = worst_glitch(chans, CFG)
        assert g is not None and g.score(CFG) < 0.5, g
        rad = [channel_glitch(c, CFG) for c in chans if c.unit == "rad"]
        assert max(x.value for x in rad) < CFG.glitch_rad_low / 1.9


def test_planted_excursion_measured_in_radians_sigmas_frame_and_length() -> None:
    ep = episodes()[0]
    clean = channel(ep, "state.right_arm.motor_27")  # the right wrist roll
    g = channel_glitch(planted(clean, 100, 2, 0.8), CFG)
    assert g is not None and g.unit == "rad" and g.frame in (100, 101)
    assert g.value == pytest.approx(0.8, abs=0.05) and g.seconds == pytest.approx(0.2)
    assert g.sigma > 2 * CFG.glitch_sigma_low and g.score(CFG) > 2
    assert channel_glitch(clean, CFG).score(CFG) < 0.3


def test_a_move_that_stays_or_lasts_longer_than_glitch_max_s_is_not_a_glitch() -> None:
    clean = channel(episodes()[1], "state.right_arm.motor_25")
    n = len(clean.values)
    stays = channel_glitch(planted(clean, n // 2, n, 0.8), CFG)  # a step to the end: the median passes it
    assert stays.value < 0.2 and stays.score(CFG) < 1
    long = channel_glitch(planted(clean, n // 2, 10, 0.8), CFG)  # 1 s out: a held move, not an excursion
    assert long.score(CFG) < 1
    short = channel_glitch(planted(clean, n // 2, 3, 0.8), CFG)  # 0.3 s = glitch_max_s: still one
    assert short.score(CFG) > 1


def test_a_wrist_rotation_excursion_is_the_angle_it_turns() -> None:
    ep = episodes()[2]
    clean = channel(ep, "observation.state.right.wrist.rot6d")
    turn = np.array([[np.cos(0.8), -np.sin(0.8), 0.0], [np.sin(0.8), np.cos(0.8), 0.0], [0.0, 0.0, 1.0]])
    v = clean.values.copy()
    v[60] = matrix_to_rot6d(rot6d_to_matrix(v[60]) @ turn)  # 0.8 rad about the wrist's own z for one frame
    g = channel_glitch(Channel(clean.name, v, "rad"), CFG)
    assert g.frame == 60 and g.value == pytest.approx(0.8, abs=0.1) and g.score(CFG) > 1
    assert channel_glitch(clean, CFG).value < 0.2


def test_a_finger_the_command_flicked_is_no_glitch_one_the_command_did_not_is() -> None:
    """A column of unknown unit (a GR1 hand motor, commanded) is judged by its excursion over its trend's range less
    the command's own."""
    ch = channel(episodes()[0], "state.right_hand.motor_30")
    assert ch.unit == "span" and ch.command is not None
    span = np.ptp(ch.values)
    sensor = planted(ch, 80, 2, 3 * span)
    g = channel_glitch(sensor, CFG)
    assert g.value > CFG.glitch_span_low and g.score(CFG) > 1
    cmd = ch.command.copy()
    cmd[80:82] += 3 * np.ptp(cmd)  # the operator's flick: commanded, then followed
    flicked = Channel(ch.name, sensor.values, ch.unit, cmd, ch.limits)
    assert channel_glitch(flicked, CFG).value < 1
