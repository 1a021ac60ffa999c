"""The stage skeleton: exit statuses 0/1/2 decided in one place, `Usage`/`Failed` messages printed as they are, a
declared error prefixed with the command, an undeclared one propagating; the catalog rebuilt only when needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jobs.runtime.stage import Failed, Stage, Usage, corpus_job_values, refresh_catalog
from jobs.stages.latents import OPTIONS, LatentsJob


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


def test_a_folder_without_datasets_is_a_bad_call(tmp_path: Path) -> None:
    import argparse

    from jobs.runtime.options import add_options

    p = argparse.ArgumentParser()
    add_options(p, OPTIONS)
    with pytest.raises(Usage, match=f"eidata latents: {tmp_path}: no datasets/ folder; not a corpus"):
        corpus_job_values("latents", p.parse_args([f"{tmp_path}/"]), OPTIONS, LatentsJob)
    (tmp_path / "datasets").mkdir()
    values = corpus_job_values("latents", p.parse_args([str(tmp_path), "--rate", "2"]), OPTIONS, LatentsJob)
    assert values["rate_hz"] == 2.0 and values["encoder"]["batch_size"] == 256


def test_catalog_rebuilt_only_after_a_change_or_when_missing(tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    assert refresh_catalog(tmp_path, False, "latents") == 0  # no catalog yet: built (empty corpus)
    stamp = sorted(p.stat().st_mtime_ns for p in (tmp_path / "catalog").rglob("*") if p.is_file())
    assert refresh_catalog(tmp_path, False, "latents") is None  # nothing changed: left alone
    assert stamp == sorted(p.stat().st_mtime_ns for p in (tmp_path / "catalog").rglob("*") if p.is_file())
    assert refresh_catalog(tmp_path, True, "latents") == 0
