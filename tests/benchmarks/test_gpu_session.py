"""The device runner's own logic, without a GPU: a phase that cannot import or does not fit is skipped with its
reason, a failing or hung phase leaves its error and the rest still run, the profile phases run only when a goal is
missed, and `--check` turns every device phase into one this CPU can run. The whole smoke plan runs in
tests/benchmarks/test_smoke.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import gpu_session as gs


def _run(monkeypatch: pytest.MonkeyPatch, phases: list[gs.Phase], tmp: Path, budget: float = 600.0) -> gs.Results:
    monkeypatch.setitem(gs.PLANS, "train", tuple(phases))
    monkeypatch.setattr(gs, "environment", lambda: {"python": "3.x"})  # torch's import is not what is tested
    return gs.run_plan("train", tmp, budget)


def test_skips_fail_and_timeouts_are_recorded_and_the_plan_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    phases = [
        gs.Phase("no_module", ("json.tool",), 0, 30, needs=("surely_not_a_module_here",)),
        gs.Phase("fails", ("json.tool", "/nonexistent.json"), 0, 30),
        gs.Phase("hangs", ("http.server", "0", "--bind", "127.0.0.1"), 0, 2),
        gs.Phase("too_big", ("json.tool",), 10_000, 30),
        gs.Phase("runs", ("platform",), 0, 30, json_line=False),
    ]
    results = _run(monkeypatch, phases, tmp_path)
    assert "cannot import surely_not_a_module_here" in results["no_module"]["skipped"]
    assert results["fails"]["exit"] != 0 and "nonexistent" in results["fails"]["error"]
    assert results["hangs"]["exit"] == "timeout" and results["hangs"]["seconds"] < 20
    assert "it needs at least 10000 s" in results["too_big"]["skipped"]
    assert results["runs"]["exit"] == 0 and "Linux" in results["runs"]["tail"]
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [x["phase"] for x in lines] == ["environment", "no_module", "fails", "hangs", "too_big", "runs"]
    summary = (tmp_path / "summary.md").read_text()
    assert "| fails |" in summary and "FAILED: exit" in summary and "skipped: cannot import" in summary
    assert "===== hangs" in (tmp_path / "log.txt").read_text()


def test_profiles_run_only_where_a_goal_is_missed() -> None:
    def step(mfu: float) -> gs.Results:
        return {"train_step": {"result": {"lda_1b": {"mfu": 0.2, "compiled": {"mfu": mfu}}}}}

    assert gs.train_missed(step(0.30)) is None  # 30 % < 45 %: profile
    assert "meets" in str(gs.train_missed(step(0.50)))
    assert gs.train_missed({}) == "no MFU measured to judge"
    rates = {"latents_model_256": {"result": {"model_img_s": 8000.0}}, "latents_model_512": {"result": {}}}
    assert gs.latents_missed(rates) is None
    rates["latents_model_512"]["result"]["model_img_s"] = 12_500.0
    assert "12,500 img/s meets" in str(gs.latents_missed(rates))


def test_check_turns_each_device_phase_into_a_cpu_one() -> None:
    for phase in gs.phases("all"):
        argv = gs.checked(phase).argv
        assert "cuda" not in argv and "on" not in argv, (phase.name, argv)
        if argv[0] == "pytest":
            assert argv[-1] == "--co"
        elif argv[0] != "benchmarks._profile":
            assert argv[-1] == "--smoke" and ("--compile" not in argv or argv[argv.index("--compile") + 1] == "off")
    assert gs.checked(gs.PLANS["train"][0]).argv.count("--compile") == 0  # train_step's bare flag


def test_every_phase_name_is_unique_and_smoke_names_exist() -> None:
    names = [p.name for p in gs.phases("all")]
    assert len(names) == len(set(names)) and set(gs.SMOKE) <= set(names)
