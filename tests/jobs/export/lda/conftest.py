"""A corpus of real samples of three kinds, and its LDA export (`--format lda`), shared by the package's tests.

`real_corpus`: 2 GR00T PickNPlace episodes (GR1, both arms, `head` camera), 3 Bridge episodes (WidowX, one arm stored
as the canonical right hand, `third_person` plus two other cameras) and VITRA's Ego4D example (human hands, the left
masked in every frame), written as ingest writes them with frames at 64x64 (no Ray). `lda_export`: its export, the
printed text kept."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from jobs.cli import main


@pytest.fixture(scope="package")
def real_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from adapters.registry import get_adapter
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from schemas.image_size import ImageSpec
    from tests.ingest.qa.planted_raw import gr00t_raws, ingest
    from tests.realdata import realdata

    root = tmp_path_factory.mktemp("lda_corpus")
    spec = CanonicalizeSpec(image=ImageSpec(size="64x64"))
    oxe, vitra = get_adapter("oxe"), get_adapter("vitra")
    bridge = [r for r in oxe.discover(realdata("octo_bridge_debug_rlds")) if r.error is None][:3]
    human = vitra.discover(realdata("vitra_ego4d_example"))
    for raw in [*gr00t_raws()[:2], *map(oxe.read, bridge), *map(vitra.read, human)]:
        written, rejected = ingest(raw, spec, root / dataset_dir(raw.ref.source, raw.ref.subset))
        assert len(written) == 1, rejected
    return root


@pytest.fixture(scope="package")
def lda_export(real_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("lda_out") / "lda"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(real_corpus), "--format", "lda", "--out", str(out)]) == 0
    return out, printed.getvalue()
