"""`latents_plan.py` (issue 99): `eidata latents --dry-run` plans from the catalog's columns (each episode's length and
its latents files with their metadata) what it planned from each dataset's `episodes.jsonl` and every latents file's
header, which it no longer opens; where the catalog does not know an episode's files (a catalog of before, a file
whose `frame_index` is not what `eidata latents` writes), it reads them as before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from adapters.lerobot_format.files import load_info
from adapters.storage.corpus import Corpus
from ingest.encoders.dinov3.model import EncoderSpec
from ingest.files.latents import LatentsFile, write_latents
from jobs.catalog.build import rebuild_catalog
from jobs.cli import main
from jobs.stages.latents import LatentsJob, expected_meta
from schemas.corpus import EPISODES_DIR
from schemas.image_latents import latent_frame_indices, latents_file
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.opened import opened_files
from tests.jobs.catalog.test_selection import BRIDGE, CLIPS, two_datasets

KEY = "observation.images.head"
PLANNED = ["plan_line", "native_moves", "latents_keys", "latents_files"]  # the columns a plan reads
LENGTHS = {BRIDGE: [6, 7, 8, 9], CLIPS: [5, 6]}  # as `two_datasets` writes them


def _write(root: Path, ds: str, index: int, *, rate_hz: float = 2.5, shift: int = 0) -> None:
    """A latents file of the episode's head camera as `eidata latents --random-init` writes it (at `rate_hz`; its
    `frame_index` moved by `shift`: a file written otherwise)."""
    meta = expected_meta(LatentsJob(root=root, encoder=EncoderSpec(random_init=True)))
    meta = meta.model_copy(update={"rate_hz": rate_hz, "video_key": KEY, "episode_index": index})
    frames = torch.from_numpy(latent_frame_indices(LENGTHS[ds][index], 10.0, rate_hz) + shift)
    n, grid = len(frames), (meta.image_size // meta.patch_size) ** 2
    tensors = torch.zeros(n, grid, 384, dtype=torch.bfloat16), torch.zeros(n, 5, 384, dtype=torch.bfloat16)
    info = load_info(root / ds / "meta/info.json")
    write_latents(root / ds / latents_file(info, index, KEY), LatentsFile(*tensors, frames, meta))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two datasets: of the bridge's episodes 0 and 1 done, 3 with a frame_index written otherwise; of the clips', 1."""
    root = two_datasets(tmp_path / "corpus")
    for ds, index in ((BRIDGE, 0), (BRIDGE, 1), (CLIPS, 1)):
        _write(root, ds, index)
    _write(root, BRIDGE, 3, shift=1)
    rebuild_catalog(Corpus(root))
    return root


def _opened_meta(opened: list[Path]) -> list[str]:
    return sorted({str(p) for p in opened if str(p).endswith(EPISODES_PATH) or "/latents/chunk-" in str(p)})


def _dry_run(root: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[list[str], str]:
    """(the episode meta and latents files opened, seen by the kernel: a header is read by safetensors' Rust, what the
    dry run said)."""
    with opened_files(root / "datasets") as opened:
        code = main(["latents", str(root), "--random-init", "--dry-run", *more])
    said = capsys.readouterr()
    return _opened_meta(opened), f"{code}\n{said.out}\n{said.err}"


def _aside(root: Path, change: Callable[[Path], None]) -> Callable[[], None]:
    """`change` the catalog's part; returns what puts it back."""
    (part,) = (root / EPISODES_DIR).glob("*.parquet")
    kept = part.read_bytes()
    change(part)
    return lambda: part.write_bytes(kept)


@pytest.mark.parametrize("more", [(), ("--manifest", "some"), ("--rate", "3")])
def test_a_dry_run_plans_from_the_catalog_what_it_planned_from_the_files(
    corpus: Path, capsys: pytest.CaptureFixture[str], more: tuple[str, ...]
) -> None:
    opened, planned = _dry_run(corpus, capsys, *more)
    # the one file the catalog does not know (its frame_index is not the one derived): read, as before, when selected
    unknown = str(corpus / BRIDGE / "latents/chunk-000" / KEY / "episode_000003.safetensors")
    assert opened == ([] if "--manifest" in more else [unknown]), opened
    restore = _aside(corpus, lambda p: pq.write_table(pq.read_table(p).drop_columns(PLANNED), p))
    try:  # a catalog of before issue 99: every dataset's episodes.jsonl and every file's header read
        from_files, said = _dry_run(corpus, capsys, *more)
    finally:
        restore()
    assert any(p.endswith(EPISODES_PATH) for p in from_files) and len(from_files) >= 4
    assert planned == said
    if not more:
        assert "would compute 2 episodes" in planned and "4 already done" in planned, planned
    if "--rate" in more:
        assert "were made differently" in planned and "2.5 Hz" in planned, planned


def test_a_catalog_of_before_its_latents_columns_reads_the_files(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, planned = _dry_run(corpus, capsys)
    restore = _aside(
        corpus, lambda p: pq.write_table(pq.read_table(p).drop_columns(["latents_keys", "latents_files"]), p)
    )
    try:
        opened, said = _dry_run(corpus, capsys)
    finally:
        restore()
    assert said == planned
    assert not [p for p in opened if p.endswith(EPISODES_PATH)]  # the lengths still from the catalog
    assert len([p for p in opened if "/latents/chunk-" in p]) == 4  # every file's header


def test_a_dataset_changed_since_the_catalog_is_read_from_its_meta(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An episode written after the catalog (its census mark differs): that dataset's episodes.jsonl is read."""
    _write(corpus, CLIPS, 0)  # a latents file the catalog does not name
    lines = (corpus / CLIPS / EPISODES_PATH).read_text()
    (corpus / CLIPS / EPISODES_PATH).write_text(lines + "\n")  # the dataset's mark changed
    opened, said = _dry_run(corpus, capsys)
    assert str(corpus / CLIPS / EPISODES_PATH) in opened and str(corpus / BRIDGE / EPISODES_PATH) not in opened
    assert "would compute 1 episodes" in said and "5 already done" in said, said


def test_a_file_removed_since_the_catalog_is_planned_again(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The catalog names it; its folder no longer holds it (removed to be made again): it is to compute."""
    info = load_info(corpus / BRIDGE / "meta/info.json")
    (corpus / BRIDGE / latents_file(info, 0, KEY)).unlink()
    opened, said = _dry_run(corpus, capsys)
    assert "would compute 3 episodes" in said and "3 already done" in said, said
    assert not [p for p in opened if p.endswith(EPISODES_PATH)]
