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


@pytest.fixture(scope="package")
def native_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two robots eidata has no description of, each with a command (action kind native) and a camera: the real
    layouts of a two-hand dexterous rig (lingzu, 34 joint targets) and a RoboCOIN bimanual arm without its unified
    end effector (30), values drawn in their stats' ranges (`tests/jobs/export/lerobot_v3/test_native.py`)."""
    from adapters.registry import get_adapter
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from schemas.image_size import ImageSpec
    from tests.fixtures.layouts import load_case, materialize
    from tests.ingest.qa.planted_raw import ingest

    layouts = Path(__file__).resolve().parents[3] / "fixtures" / "lerobot_layouts"
    tmp = tmp_path_factory.mktemp("lda_native")
    spec = CanonicalizeSpec(image=ImageSpec(size="32x32"))
    adapter = get_adapter("lerobot")
    for source, case, drop in (
        ("lingzu", "lingzu_open50_v30", ()),
        ("robocoin", "robocoin_v21", ("eef_sim_pose_state", "eef_sim_pose_action")),
    ):
        layout = load_case(layouts / case)
        for key in drop:
            layout.info["features"].pop(key)
        written = materialize(layout, tmp / "raw" / source, episodes=2, seconds=3.0)
        for ref in adapter.discover(written.root):
            kept, why = ingest(adapter.read(ref), spec, tmp / "corpus" / dataset_dir(source, ref.subset))
            assert kept, why
    return tmp / "corpus"


@pytest.fixture(scope="package")
def native_export(native_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("lda_native_out") / "lda"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(native_corpus), "--format", "lda", "--out", str(out)]) == 0
    return out, printed.getvalue()
