"""What one LeRobot v3.0 export holds, planned on a tiny corpus: a whole dataset as it is; a manifest across sources
with only the features every dataset declares alike (the natives, which differ by robot, left out with a note), the
most common camera, episodes at another camera size skipped and counted, train before val, lineage columns per
episode; selections that cannot be one dataset refused naming the cause."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.export.lerobot_v3.plan import PlanError, dataset_plan, manifest_plan, resolve_cameras
from schemas.canonical import ACTION, STATE, STATE_NATIVE
from schemas.lerobot import INFO_PATH
from tests.fixtures.corpus import episode, write_dataset

HEAD = "observation.images.head"


def _with_native(n: int, uid: str, embodiment: str, width: int) -> dict:
    return {**episode(n, "pick", uid, embodiment), "native": np.zeros((n, width))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    franka = [_with_native(6 + i, f"oxe/bridge/e{i}", "franka", 2) for i in range(3)]
    write_dataset(root / "datasets/oxe/bridge", "franka", franka, native_state_names=["j0", "j1"])
    human = [_with_native(5, f"egodex/basic/h{i}", "human", 1) for i in range(2)]
    write_dataset(root / "datasets/egodex/basic", "human", human, native_state_names=["camera.x"])
    small = [_with_native(4, "ego4d/clips/c0", "franka", 2)]
    write_dataset(root / "datasets/ego4d/clips", "franka", small, camera=(16, 24), native_state_names=["j0", "j1"])
    rebuild_catalog(root)
    curate(root, "all", "true", val_fraction=0.0)
    return root


def test_cameras_by_key_or_short_name() -> None:
    available = [HEAD, "observation.images.wrist_right"]
    assert resolve_cameras(["head", "observation.images.wrist_right"], available) == available
    assert resolve_cameras(None, available) is None and resolve_cameras(["None"], available) == []
    with pytest.raises(PlanError, match=r"camera 'top' is not among \['observation.images.head'"):
        resolve_cameras(["top"], available)


def test_a_whole_dataset_keeps_its_features_tasks_and_natives(corpus: Path) -> None:
    plan = dataset_plan(corpus / "datasets/oxe/bridge", "bridge", None)
    assert [e.episode_index for e in plan.episodes] == [0, 1, 2] and plan.fps == 10
    assert {STATE, ACTION, STATE_NATIVE, HEAD} <= set(plan.features) and plan.robot_type == "franka"
    assert plan.keep_tasks == {0: "pick"} and plan.sources == [corpus / "datasets/oxe/bridge"]
    assert HEAD not in dataset_plan(corpus / "datasets/oxe/bridge", "bridge", ["none"]).features


def test_a_manifest_becomes_one_dataset_of_what_all_declare_alike(corpus: Path) -> None:
    plan = manifest_plan(corpus, "all", None)
    assert STATE_NATIVE not in plan.features and {STATE, ACTION, HEAD} <= set(plan.features)
    assert plan.notes == [f"feature {STATE_NATIVE} left out: 3 of 3 datasets declare it, not identically"]
    assert "info" not in plan.features[ACTION]  # the per-dataset embodiment mask is an episode column instead
    assert plan.skipped == {f"camera size {HEAD}": 1}  # the 16x24 clip: most episodes are 32x48
    assert len(plan.episodes) == 5 and plan.splits == {"train": "0:5"} and plan.robot_type is None
    extra = {e.extra["episode_uid"]: e.extra for e in plan.episodes}
    assert extra["egodex/basic/h1"]["weight"] > 0
    assert {k: v for k, v in extra["egodex/basic/h1"].items() if k != "weight"} == {
        "source": "egodex",
        "subset": "basic",
        "embodiment": "human",
        "tier": "high",
        "episode_uid": "egodex/basic/h1",
        "split": "train",
        "source_dataset": "datasets/egodex/basic",
        "source_episode_index": 1,
    }


def test_train_episodes_come_before_val(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    curate(root, "split", "source = 'oxe'", val_fraction=0.34)
    plan = manifest_plan(root, "split", None)
    splits = [e.extra["split"] for e in plan.episodes]
    assert splits == sorted(splits, key=lambda s: s != "train") and "val" in splits
    n = splits.count("train")
    assert plan.splits == {"train": f"0:{n}", "val": f"{n}:{len(splits)}"}


def test_selections_that_cannot_be_one_dataset_are_refused(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"no entries\.parquet; run `eidata curate ROOT --name missing` first"):
        manifest_plan(corpus, "missing", None)
    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    info = root / "datasets/egodex/basic" / INFO_PATH
    info.write_text(json.dumps({**json.loads(info.read_text()), "fps": 30}))
    with pytest.raises(PlanError, match=r"manifest all: datasets at different rates \[10, 30\]"):
        manifest_plan(root, "all", None)
