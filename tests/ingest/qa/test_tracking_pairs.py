"""Issue 79 (review 8, defect 4): "the state follows the command" (`qa_tracking_corr`) runs only on the columns the
source's own names map, command to state (`ingest.qa.phase._pairs`); a bare column index maps nothing. Paired by
index, the 4 real raw robosuite demos (MuJoCo qpos `states.k` against OSC pose deltas `actions.k`) were all lowered
to low; the real GR00T sample's named groups (`state.left_arm.k` / `action.left_arm.k`) are still checked.
Measured on more real data in `benchmarks/tracking_pairs.py` (BENCHMARKS.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.registry import get_adapter
from ingest.qa.findings import episode_findings
from ingest.qa.phase import _pairs
from schemas.behaviour import BehaviourConfig
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepare
from tests.realdata import realdata


def _canonical(adapter: str, folder: str, limit: int) -> list:
    a = get_adapter(adapter)
    refs = sorted((r for r in a.discover(realdata(folder)) if r.error is None), key=lambda r: r.raw_id)[:limit]
    assert refs, folder
    eps = []
    for ref in refs:
        raw = a.read(ref)
        eps += prepare(replace(raw, cameras={}), CanonicalizeSpec()).episodes
    return eps


def test_raw_robosuite_pairs_no_column_and_is_not_lowered_for_tracking() -> None:
    eps = _canonical("arrays", "robosuite_raw_lift", 4)
    assert len(eps) == 4
    for ep in eps:
        assert ep.natives.state is not None and ep.natives.action is not None  # both natives there, none mapped
        assert _pairs(ep) == ([], [])
        assert ep.behaviour is not None and ep.behaviour.tracking_corr is None
        codes = {f.code for f in episode_findings(ep.behaviour, BehaviourConfig())}
        assert "qa_tracking_corr" not in codes, ep.tag


@pytest.mark.parametrize("folder", ["gr00t_robot_sim_picknplace"])
def test_named_groups_are_still_paired_and_checked(folder: str) -> None:
    for ep in _canonical("lerobot", folder, 2):
        states, actions = _pairs(ep)
        assert states and len(states) == len(actions)
        for s, a in zip(states, actions, strict=True):  # each pair the same joint by its names
            assert ep.natives.state_names[s].split(".", 1)[1] == ep.natives.action_names[a].split(".", 1)[1]
        assert ep.behaviour is not None and ep.behaviour.tracking_corr is not None
