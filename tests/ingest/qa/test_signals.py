"""The signals of a canonical episode as channels (`ingest.qa.signals`), on real episodes: which columns are
positions and in which unit their excursions are judged; quaternions as rotations (q and -q one rotation), angles
unwrapped, millimetres in metres; signals that are not positions (reward, done, labels, forces, motor currents)
left out."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from ingest.episode import CanonicalEpisode
from ingest.kinematics import load_model
from ingest.qa.glitch import channel_glitch
from ingest.qa.phase import _pairs
from ingest.qa.signals import canonical_channels, native_channels
from schemas.behaviour import BehaviourConfig
from tests.ingest.qa.planted_raw import gr00t_raws
from tests.ingest.qa.real_signals import agibot_raw, canonical

CFG = BehaviourConfig()


@functools.cache
def gr00t() -> CanonicalEpisode:
    return canonical(gr00t_raws()[0])


def test_canonical_wrists_are_metres_and_a_rotation_per_hand() -> None:
    chans = canonical_channels(gr00t())
    assert [(c.name.removeprefix("observation.state."), c.unit, c.values.shape[1]) for c in chans] == [
        *((f"left.wrist.{a}", "m", 1) for a in "xyz"),
        ("left.wrist.rot6d", "rad", 6),
        *((f"right.wrist.{a}", "m", 1) for a in "xyz"),
        ("right.wrist.rot6d", "rad", 6),
    ]


def test_gr00t_natives_arm_joints_in_radians_with_limits_the_rest_commanded_signals_left_out() -> None:
    ep = gr00t()
    chans = {c.name: c for c in native_channels(ep, _pairs(ep))}
    # the 44 commanded joints are positions; the reward, done and annotation signals are not
    assert len(chans) == 44 and not any(n.startswith(("next.", "annotation.")) for n in chans)
    arms = [c for n, c in chans.items() if "_arm." in n]
    assert len(arms) == 14 and all(c.unit == "rad" and c.limits is not None and c.command is not None for c in arms)
    model = load_model("gr1_arms")  # the description's limits, in the unit joint_units decided (rad)
    k = model.joint_names.index("right_elbow_pitch_joint")
    assert chans["state.right_arm.motor_25"].limits == pytest.approx((model.lower[k], model.upper[k]))
    # hands, legs, neck, waist: no description limits, no unit from the source: judged as a share of their range
    assert {c.unit for n, c in chans.items() if "_arm." not in n} == {"span"}


def test_agibot_quaternions_are_rotations_millimetres_metres_forces_and_currents_left_out() -> None:
    ep = canonical(agibot_raw())
    chans = {c.name: c for c in native_channels(ep, _pairs(ep))}
    assert {n for n, c in chans.items() if c.rotation} == {
        "end.orientation.0..3",
        "end.orientation.4..7",
        "robot.orientation.qx..qw",
    }
    assert not any(("wrench" in n or "current" in n) for n in chans)  # no unit, no command: not positions
    assert chans["waist.position.pitch"].unit == "rad" and chans["waist.position.lift"].unit == "m"  # "rad,m"
    grip = chans["left_effector.position.left"]  # the adapter's mm
    raw = ep.natives.state[:, ep.natives.state_names.index("left_effector.position.left")]
    assert grip.unit == "m" and np.allclose(grip.values[:, 0], raw * 1e-3, atol=1e-9)
    # the real right flange's quaternion flips sign for 3 grid frames (~frame 201: q then -q, one rotation): as
    # components that is an excursion of 1.67; as a rotation it turns 0.06 rad at most over the episode
    k = ep.natives.state_names.index("end.orientation.4")
    comp = ep.natives.state[:, k].astype(np.float64)
    assert np.abs(np.diff(comp)).max() > 1.5
    g = channel_glitch(chans["end.orientation.4..7"], CFG)
    assert g is not None and g.value < 0.07 and g.unit == "rad"


def test_an_angle_crossing_pi_is_unwrapped_not_an_excursion() -> None:
    """A real GR1 elbow moved to sit around +-pi: wrapped to (-pi, pi] it jumps by 2 pi wherever it crosses."""
    ep = gr00t()
    k = ep.natives.state_names.index("state.right_arm.motor_25")
    v = ep.natives.state.astype(np.float64).copy()
    x = v[:, k] - v[:, k].mean() + np.pi
    v[:, k] = (x + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(np.diff(v[:, k])).max() > 6  # it does cross
    moved = replace(ep, natives=replace(ep.natives, state=v.astype(np.float32)))
    (ch,) = [c for c in native_channels(moved, _pairs(moved)) if c.name == "state.right_arm.motor_25"]
    assert np.ptp(ch.values) == pytest.approx(np.ptp(x), abs=1e-5)  # unwrapped: the elbow's own range again
    assert channel_glitch(ch, CFG).value < 0.2


def test_discrete_columns_are_not_channels() -> None:
    ep = gr00t()
    name = "state.right_hand.motor_30"
    found = {c.name for c in native_channels(ep, _pairs(ep))}
    assert name in found
    marked = replace(ep, natives=replace(ep.natives, discrete={name: "2 integer levels (0, 1)"}))
    assert name not in {c.name for c in native_channels(marked, _pairs(marked))}
