"""Issue 29's GPU figures, one command per device call: every measurement a subprocess with its own deadline, run in
order of what matters most inside the call's budget; each one's JSON line, log and exit kept under `--out`.

Plans, one per device call (BENCHMARKS.md, "GPU runs", gives the calls and what each carries):

- `train`: the lda-1b training step (eager and compiled in one run; with checkpointing; LDA's channel layout) and a
  torch.profiler table of the compiled step when MFU is under 45 %. Needs only the `ray` bundle's pydantic.
- `latents`: the DINOv3 model alone beside transformers' plain loop (compiled batch 256 and 512, eager 256), a
  profiler table when it is under 10,000 img/s, every `gpu`-marked test (training's too: their fixtures need the
  `media` bundle), then decode (CPU and NVDEC) and `eidata latents` end to end through Ray.
- `all`: both, for `--check`.

`--check` runs a plan at smoke size on this machine's CPU: the same modules and imports, so a Python holding only the
device image's packages and the bundles shows what a lent machine would lack before any device time is spent.

A phase whose imports are missing (the bundles of `benchmarks._device_wheels` not unpacked) or that would not fit in
the budget left is skipped with its reason; one that fails leaves its exit and stderr tail. What comes back (the
device tool returns at most 8 files): `results.jsonl` (one object per phase), `log.txt` (every phase's stderr),
`summary.md`, and the profiler traces.

    python3 -m benchmarks.gpu_session --plan train --out $OUT --budget-s 560
    python3 -m benchmarks.gpu_session --plan latents --out $OUT --budget-s 560
    python3.12 -m benchmarks.gpu_session --plan all --check      # here, in a venv like the device image's
    .venv/bin/python -m benchmarks.gpu_session --smoke            # --check of one phase of each kind
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LATENTS_GOAL = 10_000.0  # img/s of the model alone on one H100 (issue 29)
MFU_GOAL = 0.45  # lda-1b training step on one H100 (issue 29)
MARGIN_S = 15.0  # kept back from the budget for the summary and the copy back
Results = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Phase:
    """One subprocess: `python -m <argv>` from the repository root."""

    name: str
    argv: tuple[str, ...]
    est_s: float  # least time it needs: not started with less budget left
    timeout_s: float
    needs: tuple[str, ...] = ()  # modules it imports beyond torch
    json_line: bool = True  # its last stdout line is one JSON object (pytest's is not)
    when: Callable[[Results], str | None] | None = field(default=None, compare=False)  # a reason to skip, or None


def _best(results: Results, prefix: str, key: Callable[[dict[str, Any]], float | None]) -> float | None:
    vals = [key(r["result"]) for n, r in results.items() if n.startswith(prefix) and r.get("result")]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def _mfu(r: dict[str, Any]) -> float | None:
    b = r.get("lda_1b", {})
    return max((v for v in (b.get("mfu"), b.get("compiled", {}).get("mfu")) if v is not None), default=None)


def _model_rate(r: dict[str, Any]) -> float | None:
    return r.get("model_img_s")


def train_missed(results: Results) -> str | None:
    best = _best(results, "train_step", _mfu)
    if best is None:
        return "no MFU measured to judge"
    return None if best < MFU_GOAL else f"best MFU {best:.1%} meets the {MFU_GOAL:.0%} goal"


def latents_missed(results: Results) -> str | None:
    best = _best(results, "latents_model", _model_rate)
    if best is None:
        return "no model rate measured to judge"
    return None if best < LATENTS_GOAL else f"best {best:,.0f} img/s meets the {LATENTS_GOAL:,.0f} goal"


PYTEST = ("pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu")
TRAIN = ("benchmarks.train_step", "--gpu-only", "--gpu-batch", "32", "--steps", "20", "--compile")
MODEL = ("benchmarks.latents", "--device", "cuda", "--parts", "model", "--seconds", "5")  # 4 timings each
PYD = ("pydantic",)
MEDIA = ("pydantic", "av", "upath")
MODEL_NEEDS = ("pydantic", "upath")  # --parts model: no PyAV, no Ray


def _profile(stage: str, est_s: float, timeout_s: float, when: Callable[[Results], str | None]) -> Phase:
    """torch.profiler over the stage's step (benchmarks._profile), its Chrome trace beside the results."""
    argv = ("benchmarks._profile", stage, "--trace", f"{{out}}/{stage}_trace.json.gz")
    return Phase(f"{stage}_profile", argv, est_s, timeout_s, PYD, when=when)


PLANS: dict[str, tuple[Phase, ...]] = {
    "train": (
        Phase("train_step", TRAIN, 150, 260, PYD),
        Phase("train_step_ckpt", (*TRAIN, "--checkpointing"), 150, 260, PYD),
        Phase("train_step_channel", (*TRAIN, "--image-layout", "channel", "--image-registers", "32"), 150, 260, PYD),
        _profile("train", 90, 200, train_missed),
    ),
    "latents": (
        Phase("latents_model_256", (*MODEL, "--batch", "256", "--compile", "on"), 60, 180, MODEL_NEEDS),
        Phase("latents_model_512", (*MODEL, "--batch", "512", "--compile", "on"), 60, 180, MODEL_NEEDS),
        Phase("latents_model_256_eager", (*MODEL, "--batch", "256", "--compile", "off"), 30, 120, MODEL_NEEDS),
        _profile("latents", 45, 150, latents_missed),
        Phase(
            "gpu_tests",
            (
                *PYTEST,
                "tests/training",
                "tests/ingest/encoders",
                "tests/jobs/stages/test_latents.py",
                "tests/jobs/stages/test_caption.py",
                "tests/jobs/stages/test_text_embed.py",
            ),
            90,
            300,
            (*MEDIA, "ray", "duckdb"),
            json_line=False,
        ),
        Phase(
            "latents_e2e",
            (
                "benchmarks.latents",
                "--device",
                "cuda",
                "--batch",
                "256",
                "--parts",
                "decode,e2e",
                "--episodes",
                "32",
                "--episode-s",
                "60",
                "--nvdec-streams",
                "7",  # an H100's NVDEC engines
            ),
            120,
            300,
            (*MEDIA, "ray", "duckdb"),
        ),
    ),
}


SMOKE = ("train_step", "latents_model_256", "latents_profile")  # `--smoke`: one of each kind, checked


def checked(phase: Phase) -> Phase:
    """The phase at smoke size on this machine's CPU: the same modules, imports and code paths, no figures (a
    benchmark's own `--smoke`, eager, pytest collecting only, one profiled step)."""
    argv = list(phase.argv)
    swap = {("--device", "cuda"): ("--device", "cpu"), ("--compile", "on"): ("--compile", "off")}
    for i in range(len(argv) - 1):
        argv[i : i + 2] = swap.get((argv[i], argv[i + 1]), (argv[i], argv[i + 1]))
    if argv[0] == "pytest":
        argv.append("--co")
    elif argv[0] == "benchmarks._profile":
        argv += ["--compile", "off", "--steps", "1", "--warmup", "1", "--rows", "5"]
    else:
        # train_step's bare `--compile` flag goes (no compile of tiny here); latents' `--compile off` stays
        argv = [a for i, a in enumerate(argv) if a != "--compile" or argv[i + 1 : i + 2] == ["off"]] + ["--smoke"]
    return Phase(phase.name, tuple(argv), 0.0, phase.timeout_s, phase.needs, phase.json_line)


def environment() -> dict[str, Any]:
    """The machine and the versions every figure is recorded with; which optional modules import."""
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "cuda_available": torch.cuda.is_available(),
    }
    for mod in ("pydantic", "av", "ray", "duckdb", "upath", "transformers", "timm", "triton"):
        spec = importlib.util.find_spec(mod)
        if spec is None:
            env[mod] = None
            continue
        try:
            env[mod] = getattr(importlib.import_module(mod), "__version__", "present")
        except Exception as e:  # recorded: a carried wheel that does not load is the finding
            env[mod] = f"import failed: {type(e).__name__}: {e}"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env |= {
            "gpu": props.name,
            "sms": props.multi_processor_count,
            "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "flash_sdp": torch.backends.cuda.flash_sdp_enabled(),
            "cudnn_sdp": torch.backends.cuda.cudnn_sdp_enabled(),
        }
        try:
            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm,power.limit", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:
            env["driver"] = f"nvidia-smi: {e}"
    return env


def phases(plan: str) -> tuple[Phase, ...]:
    return PLANS["train"] + PLANS["latents"] if plan == "all" else PLANS[plan]


def missing(needs: tuple[str, ...]) -> list[str]:
    return [m for m in needs if importlib.util.find_spec(m) is None]


def run_phase(phase: Phase, out: Path, timeout: float, log: Any) -> dict[str, Any]:
    """Run one phase; its stderr goes to `log` (and a prefixed progress echo to ours)."""
    argv = [a.replace("{out}", str(out)) for a in phase.argv]
    cmd = [sys.executable, "-m", *argv]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    log.write(f"\n===== {phase.name}: {' '.join(cmd)}\n")
    log.flush()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # compile workers and Ray's processes with it
        stdout, stderr = proc.communicate()
        timed_out = True
    took = time.perf_counter() - t0
    log.write(stderr)
    log.write(f"----- stdout\n{stdout}\n")
    log.flush()
    rec: dict[str, Any] = {"phase": phase.name, "command": "python -m " + " ".join(argv), "seconds": round(took, 1)}
    rec["exit"] = "timeout" if timed_out else proc.returncode
    lines = stdout.strip().splitlines()
    if phase.json_line and proc.returncode == 0 and lines:
        try:
            rec["result"] = json.loads(lines[-1])
        except json.JSONDecodeError:
            rec["error"] = f"last stdout line is not JSON: {lines[-1][:300]}"
    elif not phase.json_line:
        rec["tail"] = "\n".join(lines[-5:])  # pytest's counts
    if timed_out or proc.returncode:
        rec["error"] = (f"ran past {timeout:.0f} s" if timed_out else f"exit {proc.returncode}") + (
            ": " + stderr.strip()[-1500:]
        )
    return rec


def run_plan(plan: str, out: Path, budget_s: float, only: set[str] | None = None, check: bool = False) -> Results:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: Results = {}
    with (out / "results.jsonl").open("a") as res, (out / "log.txt").open("a") as log:

        def record(rec: dict[str, Any]) -> None:
            results[rec["phase"]] = rec
            res.write(json.dumps(rec) + "\n")
            res.flush()

        try:
            env = {"result": environment()}
        except Exception as e:  # recorded: the phases still run and say what they lack
            env = {"error": f"{type(e).__name__}: {e}"}
        record({"phase": "environment", "plan": plan, **env})
        for phase in phases(plan):
            if only and phase.name not in only:
                continue
            if check:
                phase = checked(phase)
            left = budget_s - MARGIN_S - (time.perf_counter() - start)
            reason = None
            if lacking := missing(phase.needs):
                reason = f"cannot import {', '.join(lacking)}: unpack the bundles (benchmarks._device_wheels)"
            elif left < phase.est_s:
                reason = f"{left:.0f} s of the budget left, it needs at least {phase.est_s:.0f} s"
            elif phase.when is not None:
                reason = phase.when(results)
            if reason:
                record({"phase": phase.name, "skipped": reason})
                print(f"[gpu_session] {phase.name}: skipped ({reason})", file=sys.stderr, flush=True)
                continue
            print(
                f"[gpu_session] {phase.name} (up to {min(phase.timeout_s, left):.0f} s) ...",
                file=sys.stderr,
                flush=True,
            )
            rec = run_phase(phase, out, min(phase.timeout_s, left), log)
            record(rec)
            state = "ok" if "error" not in rec else rec["error"].splitlines()[0][:200]
            print(f"[gpu_session] {phase.name}: {rec['seconds']} s, {state}", file=sys.stderr, flush=True)
    (out / "summary.md").write_text(summary(plan, results))
    return results


def _headline(rec: dict[str, Any]) -> str:
    r = rec.get("result") or {}
    if "model_img_s" in r:
        ref = r.get("reference_img_s")
        vs = f", transformers' loop {ref:,.0f} img/s" if ref else ""
        return f"model {r['model_img_s']:,.0f} img/s{vs}, actor {r.get('actor_img_s', 0):,.0f} img/s"
    if "e2e_img_s" in r:
        decode = [
            f"{route} " + (f"{r[k]:,.0f}" if (k := f"nvdec_{route}_latent_img_s") in r else "failed")
            for route in ("hwaccel", "cuvid", "cpu")
            if f"nvdec_{route}_latent_img_s" in r or f"nvdec_{route}_error" in r
        ]
        feed = f"; decode could feed (latent img/s) {', '.join(decode)}" if decode else ""
        return f"end to end {r['e2e_img_s']:,.1f} img/s over {r['e2e_frames']} frames{feed}"
    if "step_s" in r.get("tiny_cpu", {}) and "step_s" not in r.get("lda_1b", {}):
        return f"tiny on CPU {r['tiny_cpu']['step_s'] * 1e3:.0f} ms/step (lda-1b is timed on CUDA only)"
    if "lda_1b" in r and "step_s" in r["lda_1b"]:
        b = r["lda_1b"]
        c = b.get("compiled", {})
        comp = f"; compiled {c['step_s'] * 1e3:.0f} ms, MFU {c.get('mfu') or 0:.1%}" if c else ""
        mem = f", peak {b.get('peak_memory_gb')} GiB"
        return f"eager {b['step_s'] * 1e3:.0f} ms/step, MFU {b.get('mfu') or 0:.1%}{mem}{comp}"
    if "profile" in r:
        return f"device busy {r.get('device_busy')}, host syncs/step {r.get('host_syncs_per_step')}"
    return rec.get("tail", "").splitlines()[-1] if rec.get("tail") else ""


def summary(plan: str, results: Results) -> str:
    env = results.get("environment", {}).get("result", {})
    lines = [f"# gpu_session plan `{plan}`", "", "```", json.dumps(env, indent=1), "```", ""]
    lines += ["| phase | seconds | outcome |", "| --- | --- | --- |"]
    for name, rec in results.items():
        if name == "environment":
            continue
        if "skipped" in rec:
            outcome = f"skipped: {rec['skipped']}"
        elif "error" in rec:
            outcome = "FAILED: " + rec["error"].splitlines()[0][:200]
        else:
            outcome = _headline(rec)
        lines.append(f"| {name} | {rec.get('seconds', '')} | {outcome} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plan", choices=[*PLANS, "all"], default="all")
    p.add_argument("--out", type=Path, default=None, help="results folder (the device call's $OUT)")
    p.add_argument("--budget-s", type=float, default=540.0, dest="budget_s", help="the call's seconds, all phases")
    p.add_argument("--only", default=None, help="comma list of phase names to run (default: the whole plan)")
    p.add_argument(
        "--check",
        action="store_true",
        help="run the plan at smoke size on this CPU (same imports and code paths; what a bare device will lack)",
    )
    p.add_argument("--smoke", action="store_true", help=f"--check of {', '.join(SMOKE)}: runs, measures nothing")
    args = p.parse_args()
    if args.smoke:
        args.plan, args.check, args.only = "all", True, ",".join(SMOKE)
    only = set(args.only.split(",")) if args.only else None
    if only and (unknown := only - {ph.name for ph in phases(args.plan)}):
        p.error(f"plan {args.plan} has no phase {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="gpu-session-") as tmp:
        out = args.out or Path(tmp)
        results = run_plan(args.plan, out, args.budget_s, only, args.check)
        print((out / "summary.md").read_text(), file=sys.stderr)
    failed = sorted(n for n, r in results.items() if "error" in r)
    ran = sorted(n for n, r in results.items() if "exit" in r)
    print(json.dumps({"benchmark": "gpu_session", "plan": args.plan, "ran": ran, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
