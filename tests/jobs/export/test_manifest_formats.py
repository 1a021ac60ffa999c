"""Issue 79: `eidata export --manifest NAME` is honoured by every format (only the manifest's episodes are written)
or refused by name (exit 2, a line naming the format and --manifest, nothing written), never ignored: a gr00t export
with --manifest wrote every dataset of the corpus, the curation's rejected copies included. One row per format of
`jobs.export.EXPORT_FORMATS`; the corpus is the two real GR00T PickNPlace episodes of test_formats.py with a manifest
of one of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.export import EXPORT_FORMATS
from tests.jobs.export.test_formats import corpus  # noqa: F401  (the module's corpus fixture)

# format -> "honours" (the manifest's episodes only) or "refuses" (exit 2 naming the format)
HONOURS, REFUSES = "honours", "refuses"
ROWS = {"lerobot-v3": HONOURS, "lerobot-v21": HONOURS, "lda": HONOURS, "gr00t": HONOURS, "lingbot-va": REFUSES}


def test_every_registered_format_has_a_row() -> None:
    assert set(ROWS) == set(EXPORT_FORMATS)


@pytest.fixture(scope="module")
def curated(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.catalog.curate import curate

    root = Path(shutil.copytree(corpus, tmp_path_factory.mktemp("manifest") / "corpus"))
    rebuild_catalog(Corpus(root))
    curate(root, "one", "episode_index = 0", val_fraction=0.0)
    return root


def _episodes(out: Path) -> int:
    """The episodes every dataset under `out` holds (its info.json's total_episodes)."""
    return sum(json.loads(p.read_text())["total_episodes"] for p in out.rglob("meta/info.json"))


@pytest.mark.parametrize("fmt", sorted(ROWS))
def test_a_manifest_is_honoured_or_refused_by_name(
    curated: Path, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["export", str(curated), "--format", fmt, "--manifest", "one", "--out", str(out)])
    printed = capsys.readouterr()
    if ROWS[fmt] == REFUSES:
        assert code == 2, printed.out + printed.err
        assert f"--manifest does not apply to --format {fmt}" in printed.err, printed.err
        assert not out.exists()
        return
    assert code == 0, printed.out + printed.err
    assert _episodes(out) == 1, sorted(p.relative_to(out).as_posix() for p in out.rglob("info.json"))
