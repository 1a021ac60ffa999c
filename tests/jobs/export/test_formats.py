"""Issue 68: every format of `eidata export` (the registry `jobs.export.EXPORT_FORMATS`, each one a row here) has
the same dry run and exit codes: 0 written (a dry run: planned, nothing written), 1 a dataset refused or failed
(the others still go on), 2 a bad call (no corpus, a folder that is not one, a missing model folder).

The corpus is two real GR00T PickNPlace episodes written as ingest writes them (64x64 frames, no Ray). lingbot-va
needs its Wan2.2 and UMT5 folders, which no test machine has: without them every call is the bad call that names
the flag (exit 2), a dry run included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.export import EXPORT_FORMATS

DATASET = "datasets/lerobot/gr00t_robot_sim_picknplace"
NO_MODELS = "--vae PATH"  # what lingbot-va names when its model folders are not given
# format -> the exit code it gives where the others give 0 and 1 (None: the same as every format)
ROWS: dict[str, int | None] = {"lerobot-v3": None, "lerobot-v21": None, "gr00t": None, "lda": None, "lingbot-va": 2}
DEFECTS = {
    "parquet": lambda ds: (ds / "data/chunk-000/episode_000001.parquet").unlink(),
    "mp4": lambda ds: next(ds.glob("videos/chunk-000/*/episode_000001.mp4")).unlink(),
}


def test_every_registered_format_has_a_row() -> None:
    assert set(ROWS) == set(EXPORT_FORMATS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from schemas.image_size import ImageSpec
    from tests.ingest.qa.planted_raw import gr00t_raws, ingest

    root = tmp_path_factory.mktemp("formats") / "corpus"
    for raw in gr00t_raws()[:2]:
        written, rejected = ingest(
            raw, CanonicalizeSpec(image=ImageSpec(size="64x64")), root / dataset_dir("lerobot", raw.ref.subset)
        )
        assert len(written) == 1, rejected
    return root


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _export(root: Path, fmt: str, out: Path, *extra: str) -> int:
    return main(["export", str(root), "--format", fmt, "--out", str(out), *extra])


@pytest.mark.parametrize("fmt", sorted(ROWS))
def test_a_dry_run_plans_and_writes_nothing_then_the_export_writes(
    corpus: Path, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    before = _tree(work)
    want = ROWS[fmt] if ROWS[fmt] is not None else 0
    assert _export(work, fmt, tmp_path / "out", "--dry-run") == want
    printed = capsys.readouterr()
    assert _tree(work) == before and not (tmp_path / "out").exists()
    if want:  # every model folder it lacks named at once
        assert NO_MODELS in printed.err and "--text-encoder PATH" in printed.err, printed.err
        return
    assert "to write" in printed.out and "gr00t_robot_sim_picknplace" in printed.out, printed.out
    assert _export(work, fmt, tmp_path / "out") == 0, capsys.readouterr().err


@pytest.mark.parametrize("defect", sorted(DEFECTS))
@pytest.mark.parametrize("fmt", sorted(ROWS))
@pytest.mark.parametrize("dry", [False, True], ids=["export", "dry-run"])
def test_a_dataset_that_fails_exits_1_in_every_format(
    corpus: Path, fmt: str, defect: str, dry: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    DEFECTS[defect](work / DATASET)
    code = _export(work, fmt, tmp_path / "out", *(["--dry-run"] if dry else []))
    printed = capsys.readouterr()
    assert code == (ROWS[fmt] or 1), printed.out + printed.err
    assert "gr00t_robot_sim_picknplace" in printed.out + printed.err or NO_MODELS in printed.err


@pytest.mark.parametrize("fmt", sorted(ROWS))
@pytest.mark.parametrize("dry", [False, True], ids=["export", "dry-run"])
def test_a_bad_call_exits_2_in_every_format(
    corpus: Path, fmt: str, dry: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--dry-run"] if dry else []
    assert _export(corpus / DATASET, fmt, tmp_path / "out", *flags) == 2  # a dataset, not a corpus
    err = capsys.readouterr().err
    assert "not an eidata corpus" in err or NO_MODELS in err, err
    assert _export(tmp_path / "none", fmt, tmp_path / "out", *flags) == 2
    assert capsys.readouterr().err.startswith("eidata export: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", sorted(ROWS))
def test_a_format_that_writes_new_datasets_refuses_no_out_alike(
    corpus: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jobs.export.NEEDS_OUT`: one check and one message for every format that writes new datasets; gr00t writes
    in place without --out (a dry run here, so the corpus is left as it is)."""
    status = main(["export", str(corpus), "--format", fmt, *(["--dry-run"] if fmt == "gr00t" else [])])
    err = capsys.readouterr().err
    if fmt == "gr00t":
        assert status == 0, err
    else:
        assert (status, err) == (2, f"eidata export --format {fmt} needs --out DIR\n")
