"""Which action dims are real comes from the data (audit S10): an episode whose lineage and info.json both lack the
embodiment mask is never trained as "all 50 dims real": it is left out, counted with the reason naming both fields,
and logged naming the dataset and the episode; the run goes on with the others (issue 36: nothing a user can curate
crashes training)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from schemas.canonical import ACTION
from schemas.corpus import LINEAGE_KEY
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from tests.training.conftest import MODEL
from training.config import DataConfig
from training.episodes import build_index


def _drop_masks(dataset: Path, *, info: bool) -> None:
    """Remove the lineage mask of every episode, and info.json's action mask when `info`; then rebuild its corpus's
    catalog, as a user must (the index reads the lines from it, issue 99; `eidata train` refuses a catalog that no
    longer describes the datasets)."""
    lines = []
    for _, obj in read_jsonl(dataset / EPISODES_PATH):
        obj.get(LINEAGE_KEY, {}).pop("mask", None)
        lines.append(json.dumps(obj))
    (dataset / EPISODES_PATH).write_text("\n".join(lines) + "\n")
    if info:
        raw = json.loads((dataset / INFO_PATH).read_text())
        raw["features"][ACTION].get("info", {}).pop("mask", None)
        (dataset / INFO_PATH).write_text(json.dumps(raw, indent=2))
    rebuild_catalog(Corpus(dataset.parent.parent.parent))


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
    assert arm_eps and all(e.action.canonical.astype(int).tolist() == want for e in arm_eps)
    assert 0 < sum(want) < len(want)  # a franka mask, not all 50 dims


def test_no_mask_anywhere_leaves_the_episode_out_naming_dataset_episode_and_field(
    corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    arm = corpus / "datasets/sim/arm"
    _drop_masks(arm, info=True)
    with caplog.at_level(logging.WARNING, logger="training.episodes"):
        index = build_index(corpus / "manifests/train_all", "train", MODEL, DataConfig(num_workers=0))
    reasons = {r: n for r, n in index.report.skipped.items() if "no action mask" in r}
    assert len(reasons) == 1 and next(iter(reasons.values())) >= 1
    reason = next(iter(reasons))
    assert f"features.{ACTION}.info.mask" in reason and f"{LINEAGE_KEY}.mask" in reason
    assert all(e.uid.startswith("ego/") for e in index.episodes) and index.datasets == ["datasets/ego/video"]
    assert re.search(
        rf"{re.escape(str(arm / EPISODES_PATH))}: episode \d+ \(sim/arm/arm-\d\): no action mask", caplog.text
    )
