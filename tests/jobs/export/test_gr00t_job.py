"""`jobs.export.gr00t_job`: the GR00T export's command chooses where it writes: in place (each dataset's
modality.json beside it), `--out DIR` (a copy there, the corpus only read), `--dry-run` (nothing anywhere); a folder
that is not a corpus is refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.export.gr00t_job import export_corpus, failed
from schemas.lerobot import MODALITY_PATH
from schemas.storage import NotACorpus
from tests.fixtures.corpus import episode, write_dataset


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    write_dataset(root / "datasets/oxe/bridge", "franka", [episode(6, "pick the cube", "oxe/bridge/e0", "franka")])
    return root


def test_dry_run_writes_nothing_in_place_or_out(corpus: Path, tmp_path: Path) -> None:
    before = _files(corpus)
    for out in (None, tmp_path / "out"):
        results = export_corpus(corpus, out=out, dry_run=True, progress=False)
        assert [r.status for r in results] == ["to write"] and not failed(results)
    assert _files(corpus) == before and not (tmp_path / "out").exists()


def test_out_leaves_the_corpus_as_it_was_and_in_place_writes_beside_it(corpus: Path, tmp_path: Path) -> None:
    before = _files(corpus)
    results = export_corpus(corpus, out=tmp_path / "out", progress=False)
    assert [r.status for r in results] == ["written"] and not failed(results)
    after = _files(corpus)  # the corpus's data untouched: its job/ notes what it linked out (hard_links.note_linked)
    assert after.pop("job/linked-out") and after == before and (tmp_path / "out/oxe/bridge" / MODALITY_PATH).is_file()
    results = export_corpus(corpus, progress=False)
    assert [r.status for r in results] == ["written"] and (corpus / "datasets/oxe/bridge" / MODALITY_PATH).is_file()


def test_a_folder_that_is_not_a_corpus_is_refused(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    for out in (None, tmp_path / "out"):
        with pytest.raises(NotACorpus):
            export_corpus(tmp_path / "raw", out=out, progress=False)
    assert not (tmp_path / "out").exists()
