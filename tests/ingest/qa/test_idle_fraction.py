"""`qa_idle_fraction`: an episode whose state is idle over more than `idle_fraction_quarantine` of the frames it keeps
after the idle cut is quarantined, the code and the share in its reason. Planted on a real GR00T PickNPlace episode
(every joint and command held at its first value: a robot that never moves); the real moving episodes, and a real
camera-only ROS bag (no state measured), are not. The share judged is that of the kept frames
(`ingest.canonical.idle.idle_cut`): `tests/ingest/canonical/test_idle.py` has the short grasp in a long recording."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.base import RawEpisode
from adapters.registry import get_adapter
from jobs.catalog.overrule import known_codes
from schemas.behaviour import BehaviourConfig
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.behaviour_defects import Episode
from tests.fixtures.offline import prepare
from tests.ingest.qa.planted_raw import episode_of, gr00t_raws, ingest, with_episode
from tests.realdata import realdata

SPEC = CanonicalizeSpec()
CODE = "qa_idle_fraction"


@functools.cache
def raws() -> list[RawEpisode]:
    return gr00t_raws()


def still(raw: RawEpisode) -> RawEpisode:
    """`raw` with its state, command and picture held at their first frame over its whole length."""
    ep = episode_of(raw)
    n = len(ep.state)
    held = Episode(*(np.repeat(x[:1], n, axis=0) for x in (ep.state, ep.action, ep.frames)), fps=ep.fps)
    return with_episode(raw, held)


def spec(bound: float) -> CanonicalizeSpec:
    return CanonicalizeSpec(behaviour=BehaviourConfig(idle_fraction_quarantine=bound))


def test_a_still_episode_is_quarantined_with_its_idle_share(tmp_path: Path) -> None:
    eps, rejected = ingest(still(raws()[0]), SPEC, tmp_path / "ds")
    assert eps == [] and rejected is not None
    assert (
        f"{CODE}: state idle over 100.0% of the episode's frames" in rejected
        and "> canonicalize.behaviour.idle_fraction_quarantine 95.0%" in rejected
    ), rejected


def test_the_knob_moves_the_bound() -> None:
    """At 1.0 nothing is over it: the still episode is kept, its share recorded; at a lower bound it trips."""
    (kept,) = prepare(still(raws()[0]), spec(1.0)).episodes
    assert kept.behaviour is not None and kept.behaviour.idle_fraction == 1.0
    result = prepare(still(raws()[0]), spec(0.5))
    assert result.episodes == () and f"{CODE}: state idle over 100.0%" in result.rejection_message()
    assert CODE in known_codes()  # a code `eidata curate --include-verdict / --exclude-verdict` takes


def test_idle_shorter_than_the_cut_keeps_is_no_idle_episode() -> None:
    """A moving real episode (0.96 % of GR00T episode 0's frames idle: 0.1 s at each end of 20.8 s) is kept at a bound
    below its share: 0.2 s of idle is less than a moving episode's cut ends keep (twice `idle_keep_s`). The real Aria
    wrist rows of the first MPS version (0.5 s, the hand within 1 % of its range) tripped the bound without this
    (tests/adapters/aria_mps/test_forms.py)."""
    moving = replace(raws()[0], cameras={})
    (ep,) = prepare(moving, SPEC).episodes
    share = ep.behaviour.idle_fraction
    assert share is not None and 0 < share < 0.02
    (kept,) = prepare(moving, spec(share / 2)).episodes
    assert kept.behaviour is not None and kept.behaviour.idle_fraction == share


def test_the_real_moving_episodes_are_not_idle() -> None:
    for raw in raws():
        (ep,) = prepare(replace(raw, cameras={}), SPEC).episodes
        assert ep.behaviour is not None and ep.behaviour.idle_fraction is not None
        assert ep.behaviour.idle_fraction < 0.02, (raw.ref.raw_id, ep.behaviour.idle_fraction)


def camera_only() -> RawEpisode:
    """The real PR2 head-camera bag (`rosbag_pr2`): images and no joint, pose or hand, read as
    tests/adapters/rosbag/test_ingest_pr2.py reads it."""
    adapter = get_adapter("rosbag", {"camera_map": {"/wide_stereo/left/image_raw": "head"}})
    [ref] = adapter.discover(realdata("rosbag_pr2/camera/test-color-point-detector.bag").parent)
    return adapter.read(ref)


@pytest.mark.parametrize("bound", [0.01, 0.95])
def test_a_real_episode_with_no_state_is_not_idle(bound: float) -> None:
    """No state measured, so no idle share (before, it read 100 % idle: quarantined at any bound) and nothing cut;
    kept at any bound. Its 2 Hz camera is held across gaps up to 0.6 s, as its adapter test ingests it."""
    spec = CanonicalizeSpec(max_gap_s=0.6, behaviour=BehaviourConfig(idle_fraction_quarantine=bound))
    (ep,) = prepare(camera_only(), spec).episodes
    assert not ep.mask.any() and "head" in ep.cameras
    assert ep.behaviour is not None and ep.behaviour.idle_fraction is None
    assert ep.evidence.idle.idle_fraction is None and not ep.evidence.idle.cuts
    assert not any(v.code == CODE for v in ep.verdicts)
