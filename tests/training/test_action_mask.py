"""Which action dims are real comes from the data (audit S10): an episode whose lineage and info.json both lack the
embodiment mask is an error naming the dataset, the episode and the field, not "all 50 dims real"."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from schemas.canonical import ACTION
from schemas.corpus import LINEAGE_KEY
from schemas.lerobot import EPISODES_PATH, INFO_PATH, read_jsonl
from tests.training.conftest import MODEL
from training.config import DataConfig
from training.episodes import DataError, build_index


def _drop_masks(dataset: Path, *, info: bool) -> None:
    """Remove the lineage mask of every episode, and info.json's action mask when `info`."""
    lines = []
    for _, obj in read_jsonl(dataset / EPISODES_PATH):
        obj.get(LINEAGE_KEY, {}).pop("mask", None)
        lines.append(json.dumps(obj))
    (dataset / EPISODES_PATH).write_text("\n".join(lines) + "\n")
    if info:
        raw = json.loads((dataset / INFO_PATH).read_text())
        raw["features"][ACTION].get("info", {}).pop("mask", None)
        (dataset / INFO_PATH).write_text(json.dumps(raw, indent=2))


@pytest.fixture
def corpus(manifest: Path, tmp_path: Path) -> Path:
    """A private copy of the session corpus (the session's is shared by every training test)."""
    return Path(shutil.copytree(manifest.parent.parent, tmp_path / "corpus"))


def test_info_json_mask_stands_in_for_a_missing_lineage_mask(corpus: Path) -> None:
    arm = corpus / "datasets/sim/arm"
    _drop_masks(arm, info=False)
    index = build_index(corpus / "manifests/train_all", "train", MODEL, DataConfig(num_workers=0))
    want = json.loads((arm / INFO_PATH).read_text())["features"][ACTION]["info"]["mask"]
    arm_eps = [e for e in index.episodes if index.datasets[e.dataset_id] == "datasets/sim/arm"]
    assert arm_eps and all(e.mask.astype(int).tolist() == want for e in arm_eps)
    assert 0 < sum(want) < len(want)  # a franka mask, not all 50 dims


def test_no_mask_anywhere_is_an_error_naming_dataset_episode_and_field(corpus: Path) -> None:
    arm = corpus / "datasets/sim/arm"
    _drop_masks(arm, info=True)
    with pytest.raises(DataError) as err:
        build_index(corpus / "manifests/train_all", "train", MODEL, DataConfig(num_workers=0))
    msg = str(err.value)
    assert re.search(rf"{re.escape(str(arm / EPISODES_PATH))}: episode \d+ \(sim/arm/arm-\d\): no action mask", msg)
    assert f"features.{ACTION}.info.mask" in msg and f"{LINEAGE_KEY}.mask" in msg
