"""The proof by the real consumer: LDA-1B's own loader (`get_vla_dataset`, `LeRobotSingleDataset`,
`LeRobotMixtureDataset` of jiangranlv/latent-dynamics-action, `lda/dataloader/`) on the LDA export of real GR1,
Bridge and VITRA samples, with only the text the export printed pasted in, in LDA's pretraining setting
(`use_delta_action=true`) and its fine-tuning setting: every step's state, action chunk, language and frames equal
what eidata wrote, no sample raises (LDA hides that by drawing another), 16-step chunks, the action mask only on
the configured keys, LDA's own differences of the absolute poses equal the relative motion computed here.

Nothing of LDA's is in this repository and its dependencies (torch, torchvision 0.21, decord, transformers, ...) are
not eidata's, so it runs in another Python (`lda_consumer.py`):
- EIDATA_LDA_PYTHON: a Python with LDA's dependencies (jobs/export/README.md, "LDA": how to make one);
- EIDATA_LDA_CHECKOUT: a folder holding LDA's `lda/` package, else the real sample folder `lda_loader`
  (jiangranlv/latent-dynamics-action@99bf08b:lda/).
Without them it skips, naming what is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realdata import realdata

HARNESS = Path(__file__).with_name("lda_consumer.py")


def _needs() -> tuple[str, Path]:
    python = os.environ.get("EIDATA_LDA_PYTHON")
    if not python:
        pytest.skip("EIDATA_LDA_PYTHON is not set: a Python with LDA-1B's dependencies (jobs/export/README.md, LDA)")
    checkout = os.environ.get("EIDATA_LDA_CHECKOUT")
    return python, Path(checkout) if checkout else realdata("lda_loader")


def _consume(lda_export: tuple[Path, str], tmp_path: Path, setting: str, edit: tuple[str, str] = ("", "")) -> dict:
    python, checkout = _needs()
    out, printed = lda_export
    root = tmp_path / "lda"  # LDA writes its steps cache (and stats, were they missing) into each dataset folder
    shutil.copytree(out, root)
    entry = printed.split("Paste into LDA's repository:\n", 1)[1].rsplit("\nlda: ", 1)[0]
    (tmp_path / "entry.py").write_text(entry.replace(*edit))
    report = tmp_path / "report.json"
    argv = [python, str(HARNESS), "--lda", str(checkout), "--root", str(root), "--entry", str(tmp_path / "entry.py")]
    run = subprocess.run(
        [*argv, "--setting", setting, "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # nothing written into the user's LDA checkout
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(report.read_text())
    print(json.dumps(got), file=sys.stderr)
    return got


@pytest.mark.parametrize("setting", ["pretrain", "finetune"])
def test_ldas_loader_reads_what_eidata_wrote(setting: str, lda_export: tuple[Path, str], tmp_path: Path) -> None:
    got = _consume(lda_export, tmp_path, setting)
    assert got["datasets"] == ["gr00t_robot_sim_picknplace", "bridge_dataset", "Ego4D"]
    assert got["steps"] == got["items"] == 149 + 21 + 3  # every third frame of 443, 57 and 9 (LDA's img_interval 3)
    assert got["values"] > 50_000 and got["frames"] == 3 * got["steps"] and got["language"] == 2 * got["steps"]
    for key in ("value_mismatches", "frame_mismatches", "language_mismatches", "retries", "bad_chunk_length"):
        assert got[key] == 0, key
    assert got["mask_outside_keys"] == 0 and got["delta_mismatches"] == 0
    if setting == "pretrain":
        assert got["deltas"] > 40_000 and got["pred_delta_steps"] == 16


def test_the_check_sees_ldas_default_backend_return_wrong_frames(lda_export: tuple[Path, str], tmp_path: Path) -> None:
    """The planted defect: LDA's default `torchvision_av` instead of the printed `decord` (frames from the keyframe
    on, not at the timestamps asked for): the same check must count wrong frames."""
    got = _consume(lda_export, tmp_path, "finetune", ('video_backend = "decord"', 'video_backend = "torchvision_av"'))
    assert got["frame_mismatches"] > got["frames"] // 4 and got["value_mismatches"] == 0
