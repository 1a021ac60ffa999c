"""`settle.py`: which episodes leave in the chosen action space and as which datasets, on datasets described by their
meta only (the newcomer's five-robot manifest in miniature: canonical robots beside robots without a description)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jobs.export.lerobot_v3.episodes import EpisodeRef
from jobs.export.lerobot_v3.settle import labels, settle
from jobs.export.lerobot_v3.source import stats_extent
from jobs.export.lerobot_v3.spaces import NoActionInSpace
from schemas.actions import ActionSpace
from schemas.canonical import ACTION, ACTION_NATIVE, STATE, STATE_NATIVE
from schemas.corpus import EpisodeLineage


def _dataset(name: str, kind: str, width: int, robot: str, n: int = 2) -> SimpleNamespace:
    features = {
        ACTION: {"dtype": "float32", "shape": [50], "info": {"mask": [int(kind == "canonical")] * 50}},
        STATE: {"dtype": "float32", "shape": [50]},
        ACTION_NATIVE: {"dtype": "float32", "shape": [width], "names": [f"action.m{i}" for i in range(width)]},
        STATE_NATIVE: {"dtype": "float32", "shape": [width], "names": [f"state.m{i}" for i in range(width)]},
    }
    episodes = {
        i: {"eidata": {"action_kind": kind, "embodiment": robot, "episode_uid": f"{name}/e{i}", "source": name}}
        for i in range(n)
    }
    stats = {i: {ACTION_NATIVE: {"min": [0.0] * width, "max": [1.0] * width}} for i in range(n)}

    def extents(column: str) -> dict[int, Any]:  # as `SourceDataset.extents` reads them, at the ask
        return {i: e for i, s in stats.items() if (e := stats_extent(s.get(column))) is not None}

    def moves(column: str) -> dict[int, Any]:  # as `SourceDataset.moves` reads them without a catalog
        return {i: hi > lo for i, (lo, hi, _) in extents(column).items()}

    def lineage(i: int) -> EpisodeLineage:  # as `SourceDataset.lineage` reads a line of its meta
        return EpisodeLineage.of(episodes.get(i, {}))

    return SimpleNamespace(
        root=Path(name),
        features=features,
        episodes=episodes,
        stats=stats,
        extents=extents,
        moves=moves,
        info={"robot_type": robot},
        lineage=lineage,
        per_text=lambda i, what, make: make(lineage(i)),  # a meta line's: made at each ask
    )


def _refs(*datasets: SimpleNamespace) -> list[EpisodeRef]:
    return [EpisodeRef(d, i) for d in datasets for i in sorted(d.episodes)]  # type: ignore[arg-type]


FRANKA, CR5 = _dataset("franka", "canonical", 8, "franka"), _dataset("cr5", "native", 7, "cr5")
LINGZU = _dataset("lingzu", "native", 34, "unknown")


def test_the_default_is_canonical_and_refuses_robots_without_one_naming_them() -> None:
    with pytest.raises(NoActionInSpace, match=r"mix: 4 episodes have no canonical action: cr5: 2 episodes \(cr5/e0, "):
        settle(_refs(FRANKA, CR5, LINGZU), None, False, "mix")


def test_left_out_by_request_each_dataset_named_in_one_line() -> None:
    settled = settle(_refs(FRANKA, CR5, LINGZU), None, True, "mix")
    assert settled.space is ActionSpace.canonical and [len(g.episodes) for g in settled.groups] == [2]
    assert len(settled.left_out) == 2 and all(x.startswith("left out (--skip-without-action") for x in settled.left_out)
    assert "cr5: 2 episodes" in settled.left_out[0] and "lingzu: 2 episodes" in settled.left_out[1]
    assert settled.skipped == {"no canonical action": 4}  # counted, for the summary's `skipped:` (issue 86)


def test_native_is_one_dataset_per_width_and_robots_named() -> None:
    settled = settle(_refs(FRANKA, CR5, LINGZU), ActionSpace.native, False, "mix")
    assert [g.of.width for g in settled.groups] == [8, 7, 34]
    assert labels(settled.groups) == ["franka", "cr5", "lingzu"]  # a robot no one named: its source's folder
    only = settle(_refs(CR5, LINGZU), None, False, "mix")  # no canonical dim anywhere: native by default
    assert only.space is ActionSpace.native and len(only.groups) == 2


def test_a_command_that_never_moves_is_no_action() -> None:
    still = _dataset("still", "native", 7, "cr5")
    still.stats[1][ACTION_NATIVE]["max"] = [0.0] * 7
    with pytest.raises(NoActionInSpace, match=r"1 episodes have no native action: still: 1 episodes \(still/e1\)"):
        settle(_refs(still), ActionSpace.native, False, "mix")


def test_joints_of_a_robot_without_a_joint_space_description_are_refused() -> None:
    with pytest.raises(NoActionInSpace, match=r"embodiment 'cr5' has no joint-space description"):
        settle(_refs(CR5), ActionSpace.joints, False, "mix")
