"""`eidata latents --manifest / --where / --dry-run`: a run computes the selected episodes only and its summary counts
the selection (selected, written, already done); a dry run says what it would compute and writes nothing (the
corpus's file tree, sizes and times unchanged); a selection the corpus cannot give is a usage error (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.lerobot_format.files import load_info
from jobs.cli import main
from schemas.image_latents import latent_frame_indices, latents_file
from tests.fixtures.dinov3 import write_tiny_dinov3
from tests.jobs.catalog.test_selection import BRIDGE, CLIPS, two_datasets
from tests.jobs.runtime.test_dry_run import snapshot

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

KEY = "observation.images.head"
LENGTHS = {BRIDGE: [6, 7, 8, 9], CLIPS: [5, 6]}  # as `two_datasets` writes them


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dinov3(tmp_path_factory.mktemp("model") / "dinov3-tiny")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_datasets(tmp_path_factory.mktemp("scope") / "corpus")


@pytest.fixture
def corpus(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "corpus"))


def _have(root: Path) -> set[tuple[str, int]]:
    """The (dataset, episode) pairs with a latents file."""
    out = set()
    for ds, lengths in LENGTHS.items():
        info = load_info(root / ds / "meta/info.json")
        out |= {(ds, i) for i in range(len(lengths)) if (root / ds / latents_file(info, i, KEY)).exists()}
    return out


def _frames(*pairs: tuple[str, int]) -> int:
    return sum(len(latent_frame_indices(LENGTHS[ds][i], 10.0, 2.5)) for ds, i in pairs)


def test_a_dry_run_says_what_it_would_compute_and_writes_nothing(corpus: Path, capsys) -> None:
    before = snapshot(corpus)
    assert main(["latents", str(corpus), "--random-init", "--manifest", "some", "--dry-run"]) == 0
    assert snapshot(corpus) == before
    frames = _frames((BRIDGE, 0), (BRIDGE, 1), (CLIPS, 1))
    said = f"3 episodes selected (manifest some): would compute 3 episodes ({frames} frames) in 2 datasets"
    assert said in capsys.readouterr().out


def test_a_manifest_then_a_where_compute_their_episodes_only(corpus: Path, model_dir: Path, capsys) -> None:
    run = ["latents", str(corpus), "--model", str(model_dir), "--device", "cpu"]
    assert main([*run, "--manifest", "some"]) == 0
    assert _have(corpus) == {(BRIDGE, 0), (BRIDGE, 1), (CLIPS, 1)}
    frames = _frames((BRIDGE, 0), (BRIDGE, 1), (CLIPS, 1))
    assert f"3 episodes selected (manifest some): 3 episodes written ({frames} frames" in capsys.readouterr().out
    assert main([*run, "--where", "subset = 'bridge'"]) == 0
    assert _have(corpus) == {(BRIDGE, i) for i in range(4)} | {(CLIPS, 1)}
    out = capsys.readouterr().out
    assert "4 episodes selected (where subset = 'bridge'): 2 episodes written" in out and "2 already done" in out
    before = snapshot(corpus)  # everything selected is done: a dry run would compute nothing
    assert main([*run, "--where", "subset = 'bridge'", "--dry-run"]) == 0
    assert snapshot(corpus) == before
    assert "would compute 0 episodes (0 frames) in 0 datasets, 4 already done" in capsys.readouterr().out


def test_a_selection_the_corpus_cannot_give_is_a_usage_error(corpus: Path, capsys) -> None:
    run = ["latents", str(corpus), "--random-init", "--dry-run"]
    assert main([*run, "--manifest", "nope"]) == 2
    assert "eidata latents: " in (err := capsys.readouterr().err) and "eidata curate" in err
    assert main([*run, "--where", "no_such_column = 1"]) == 2
    assert "--where" in capsys.readouterr().err
    shutil.rmtree(corpus / CLIPS)  # a teammate's copy without the clips
    assert main([*run, "--manifest", "some"]) == 2
    assert f"lacks: {CLIPS}" in capsys.readouterr().err
