"""The catalog tells human hand keypoints from a robot hand's: `has_hands` keeps meaning tracked human hands (old
`WHERE has_hands` queries select the same episodes), `hand_keypoints` says human / robot / none per episode."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from jobs.catalog.rows import dataset_rows
from tests.fixtures.corpus import episode as _ep
from tests.fixtures.corpus import write_dataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    human = [_ep(6, "fold", "egodex/basic/a", "human", hands=True), _ep(5, "look", "egodex/basic/b", "human")]
    write_dataset(root / "datasets/egodex/basic", "human", human)
    write_dataset(root / "datasets/gr00t/gr1", "gr1", [_ep(7, "pick", "gr00t/gr1/e0", "gr1", hands=True)])
    write_dataset(root / "datasets/oxe/bridge", "franka", [_ep(4, "pick", "oxe/bridge/e0", "franka")])
    rebuild_catalog(Corpus(root))
    return root


def _rows(corpus: Path, rel: str) -> list:
    return dataset_rows(corpus, corpus / rel)[0]


def test_rows_say_whose_keypoints(corpus: Path) -> None:
    tracked, untracked = _rows(corpus, "datasets/egodex/basic")
    assert (tracked.has_hands, tracked.hand_keypoints) == (True, "human")
    assert (untracked.has_hands, untracked.hand_keypoints) == (False, "none")  # all-zero keypoints: not tracked
    (robot,) = _rows(corpus, "datasets/gr00t/gr1")
    assert (robot.has_hands, robot.hand_keypoints) == (False, "robot")  # non-zero keypoints, but a robot's
    (gripper,) = _rows(corpus, "datasets/oxe/bridge")
    assert (gripper.has_hands, gripper.hand_keypoints) == (False, "none")


def test_old_and_new_queries(corpus: Path) -> None:
    human = run_query(corpus, "SELECT episode_uid FROM episodes WHERE has_hands ORDER BY 1").column(0).to_pylist()
    assert human == ["egodex/basic/a"]
    sql = "SELECT hand_keypoints, count(*) AS n FROM episodes GROUP BY 1 ORDER BY 1"
    table = run_query(corpus, sql)
    assert dict(zip(*(table.column(i).to_pylist() for i in range(2)), strict=True)) == {
        "human": 1,
        "none": 2,
        "robot": 1,
    }
