"""The stage skeleton: exit statuses 0/1/2 decided in one place, `Usage`/`Failed` messages printed as they are, a
declared error and the machinery's own (a held lock, a placement that cannot work, a value the job model refuses)
prefixed with the command, an undeclared one propagating; a `CorpusStage` run through Ray Data in the skeleton's
order (lock, plan, decode tasks, model actors, accept, finish, catalog), a folder without datasets/ refused before
anything is written; the catalog rebuilt only when needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.storage.corpus import Corpus
from jobs.runtime.job_lock import JobLockedError
from jobs.runtime.ray_pool import Placement, PoolError
from jobs.runtime.stage import (
    CorpusRoot,
    CorpusStage,
    Failed,
    RayJob,
    Stage,
    StageReport,
    Usage,
    refresh_catalog,
)


@dataclass
class Report:
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"done, {len(self.failed)} failed"


class Busy(RuntimeError):
    pass


class Bad(ValueError):
    pass


def _stage(outcome: Any) -> Stage[str, Report]:
    def run(job: str, args: Any) -> Report:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return Stage(
        "demo-stage",
        lambda args: "job",
        run,
        Report.summary,
        lambda r: bool(r.failed),
        usage_errors=lambda: (Bad,),
        job_errors=(Busy,),
    )


@pytest.mark.parametrize(
    ("outcome", "status", "out", "err"),
    [
        (Report(), 0, "done, 0 failed\n", ""),
        (Report(["x"]), 1, "done, 1 failed\n", ""),
        (Usage("eidata demo-stage: no corpus"), 2, "", "eidata demo-stage: no corpus\n"),
        (Failed("eidata demo-stage: nothing to do"), 1, "", "eidata demo-stage: nothing to do\n"),
        (Bad("rate above fps"), 2, "", "eidata demo-stage: rate above fps\n"),
        (Busy("locked by pid 7"), 1, "", "eidata demo-stage: locked by pid 7\n"),
        (JobLockedError("another job"), 1, "", "eidata demo-stage: another job\n"),  # the machinery's, for all
        (PoolError("no GPU"), 2, "", "eidata demo-stage: no GPU\n"),
    ],
)
def test_exit_status(outcome: Any, status: int, out: str, err: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _stage(outcome)(None) == status
    assert capsys.readouterr() == (out, err)


def test_an_empty_summary_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """A job with nothing to say (an export of a corpus without datasets) prints no blank line."""
    stage = Stage("demo-stage", lambda args: "job", lambda job, args: {}, lambda r: "", lambda r: False)
    assert stage(None) == 0
    assert capsys.readouterr() == ("", "")


def test_an_undeclared_error_propagates() -> None:
    with pytest.raises(KeyError):
        _stage(KeyError("bug"))(None)


def test_a_value_the_job_model_refuses_is_a_bad_call(capsys: pytest.CaptureFixture[str]) -> None:
    def build(args: Any) -> _Job:
        return _Job(root="gs://b/corpus")  # not s3://

    stage = Stage("demo-stage", build, lambda job, args: Report(), Report.summary, lambda r: False)
    assert stage(None) == 2
    assert "eidata demo-stage: 1 validation error" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="must be s3://"):
        build(None)


class _Job(RayJob):
    root: CorpusRoot
    object_store_mb: int = 128
    batch_size: int = 2


@dataclass
class _Report(StageReport):
    seen: list[tuple[str, int]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.seen)} seen"


def _double(row: dict[str, Any], *, by: int) -> dict[str, Any]:
    return {**row, "x": row["x"] * by}


class _Square:
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"name": batch["name"], "y": batch["x"] ** 2 + self.offset}


class _Toy(CorpusStage[_Job, _Report]):
    command = "toy"
    Model = _Square
    decode = staticmethod(_double)
    catalog = "toys"

    def __init__(self, job: _Job) -> None:
        super().__init__(job, _Report())

    def plan(self, corpus: Corpus) -> list[dict[str, Any]]:
        assert (corpus.root / "job/toy.lock").exists()  # planned under the corpus's job lock
        self.report.events.append("plan")
        return [{"name": f"r{i}", "x": i} for i in range(5)]

    def decode_args(self, corpus: Corpus) -> dict[str, Any]:
        return {"by": 3}

    def model_args(self, place: Placement) -> dict[str, Any]:
        return {"offset": 1}

    def accept(self, batch: dict[str, Any], corpus: Corpus) -> tuple[int, int]:
        self.report.seen += [(str(n), int(y)) for n, y in zip(batch["name"], batch["y"], strict=True)]
        return len(batch["name"]), 0

    def finish(self, corpus: Corpus, *, address: str | None, progress: bool | None) -> bool:
        self.report.events.append("finish")
        return True


@pytest.mark.shared_ray
def test_a_corpus_stage_runs_in_the_skeleton_s_order(tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    report = _Toy(_Job(root=str(tmp_path), num_cpus=2)).run(progress=False)
    assert sorted(report.seen) == [(f"r{i}", (3 * i) ** 2 + 1) for i in range(5)]  # decode, then the model actors
    assert report.events == ["plan", "finish"] and report.root == tmp_path and report.seconds > 0
    assert report.catalog_rows == 0 and (tmp_path / "catalog/episodes").is_dir()  # refreshed after the change


def test_a_folder_without_datasets_is_a_bad_call_before_any_write(tmp_path: Path) -> None:
    with pytest.raises(Usage, match=f"eidata toy: {tmp_path}: no datasets/ folder; not a corpus"):
        _Toy(_Job(root=str(tmp_path))).run(progress=False)
    assert list(tmp_path.iterdir()) == []  # no job lock, no catalog


def test_catalog_rebuilt_only_after_a_change_or_when_missing(tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    corpus = Corpus(tmp_path)
    assert refresh_catalog(corpus, False, "latents") == 0  # no catalog yet: built (empty corpus)
    stamp = sorted(p.stat().st_mtime_ns for p in (tmp_path / "catalog").rglob("*") if p.is_file())
    assert refresh_catalog(corpus, False, "latents") is None  # nothing changed: left alone
    assert stamp == sorted(p.stat().st_mtime_ns for p in (tmp_path / "catalog").rglob("*") if p.is_file())
    assert refresh_catalog(corpus, True, "latents") == 0
