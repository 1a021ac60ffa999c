"""Issue 68: `report --exports exports exports_lda` ignored the LDA folder without a word. The report reads every
export format's datasets (LeRobot v3.0 / v2.1, LDA with its layout, a GR00T copy) and names each folder or dataset it
cannot read: a raw dataset no export wrote, a folder holding no dataset, one that is not there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.report.exports import exports_html, read_exports

DATASET = "lerobot/gr00t_robot_sim_picknplace"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from schemas.image_size import ImageSpec
    from tests.ingest.qa.planted_raw import gr00t_raws, ingest

    top = tmp_path_factory.mktemp("exports")
    corpus = top / "corpus"
    for raw in gr00t_raws()[:2]:
        spec = CanonicalizeSpec(image=ImageSpec(size="64x64"))
        written, rejected = ingest(raw, spec, corpus / dataset_dir("lerobot", raw.ref.subset))
        assert len(written) == 1, rejected
    for fmt, out in (("lerobot-v3", "exports"), ("lda", "exports_lda"), ("gr00t", "exports_gr00t")):
        assert main(["export", str(corpus), "--format", fmt, "--out", str(top / out)]) == 0
    return top


def test_every_format_read_and_every_other_folder_named(made: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"  # a LeRobot dataset no export wrote (a copy of the corpus's, no record, no modality)
    shutil.copytree(made / "corpus/datasets" / DATASET, raw / "ds")
    (tmp_path / "empty").mkdir()
    folders = [made / "exports", made / "exports_lda", made / "exports_gr00t", raw, tmp_path / "empty"]
    found = read_exports([*folders, tmp_path / "none"])
    by_format = {e.format: e for e in found.found}
    assert set(by_format) == {"LeRobot v3.0", "lda", "gr00t"}
    lda = by_format["lda"]
    assert (lda.folder, lda.layout, lda.episodes, lda.frames) == (f"exports_lda/{DATASET}", "dual_arm", 2, 443)
    assert (by_format["gr00t"].episodes, by_format["LeRobot v3.0"].episodes) == (2, 2)
    assert found.unread == [
        "raw/ds: a dataset no eidata export wrote (no .eidata-export.json, no meta/modality.json)",
        f"{tmp_path / 'empty'}: no dataset (no meta/info.json below it), not an export",
        f"{tmp_path / 'none'}: no such folder",
    ]
    html = exports_html(folders)
    assert "<td>dual_arm</td>" in html and "exports not read (2)" in html and "raw/ds: a dataset no eidata" in html


def test_an_lda_export_without_its_record_is_still_read(made: Path, tmp_path: Path) -> None:
    """LDA exports written before LDA left a completion record: known by LDA's stats file beside modality.json."""
    old = Path(shutil.copytree(made / "exports_lda", tmp_path / "exports_lda"))
    record = old / DATASET / ".eidata-export.json"
    assert json.loads(record.read_text())["format"] == "lda"
    record.unlink()
    (e,) = read_exports([old]).found
    assert (e.format, e.layout, e.episodes) == ("lda", "end effector", 2)
