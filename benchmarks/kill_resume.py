"""Work kept across a kill (issue 59 item 2): `eidata ingest` is SIGKILLed at half of a new source added to a corpus
that already holds another, then rerun; how much finished work the rerun had to do again, and how long Ray's helper
processes outlived the killed driver.

The corpus: two sources of small EgoDex episodes (`adapters.synthetic.egodex`), `old` (`--done` episodes, ingested
first) and `new` (`--episodes`), written once into `--workdir`. Per checkout measured (this one, and `--before
CHECKOUT`, an earlier commit's tree: the same benchmark, that commit's code):

- **uninterrupted**: `eidata ingest` of both sources on a copy of the one-source corpus (the reference bytes);
- **killed**: the same on another copy, the driver alone SIGKILLed (as `kill -9 <pid>` does) once half of `new`'s
  canonical episodes are finished (committed, or staged complete: a staging folder whose builder let go of it);
  at that instant the benchmark counts finished and committed episodes, then for `--orphan-wait` s how many of the
  driver's processes (its session: Ray's raylet, workers and agents) are still alive;
- **resumed**: the rerun, with its wall time, the episodes it kept from the kill (committed before it, by the driver
  or by its processes that outlived it, or adopted from staging: its log's "adopted N") and those it had to do again
  (`redone` = finished at the kill, not kept), and
  whether its datasets are byte for byte the uninterrupted run's.

    python -m benchmarks.kill_resume [--episodes 24] [--done 6] [--workdir DIR] [--before CHECKOUT] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log

ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "SVT_LOG": "1"}
CLI = "import sys; from jobs.cli import main; sys.exit(main())"


def prepare(work: Path, episodes: int, done: int, frames: int) -> tuple[Path, Path]:
    """The two raw sources, the spec of both and the one-source corpus (kept in `work` for reuse)."""
    from adapters.synthetic.egodex import write_egodex

    spec, base = work / "spec.yaml", work / "base"
    stamp, params = work / "prepared.json", {"episodes": episodes, "done": done, "frames": frames}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return spec, base
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name, n, seed in (("old", done, 1), ("new", episodes, 2)):
        write_egodex(work / "raw" / name, episodes_per_task=n // 2, num_frames=frames, seed=seed, old_episode=False)
    job = {
        "output": str(base),
        "sources": [{"name": n, "adapter": "egodex", "root": str(work / "raw" / n)} for n in ("old", "new")],
        "canonicalize": {"validity": {"policy": "mask"}},  # as benchmarks.rerun: no cut under min_length_frames
        "codec": {"preset": "12"},
        "parallelism": {"num_cpus": 2},
    }
    spec.write_text(yaml.safe_dump(job, sort_keys=False))
    first = {**job, "sources": job["sources"][:1]}
    (work / "spec_old.yaml").write_text(yaml.safe_dump(first, sort_keys=False))
    code, _, err = _ingest(ROOT, work / "spec_old.yaml", work / "base", work / "logs-base")
    if code != 0:
        raise RuntimeError(f"the one-source ingest failed: {err[-3000:]}")
    stamp.write_text(json.dumps(params))
    return spec, base


def _ingest(checkout: Path, spec: Path, output: Path, logs: Path) -> tuple[int, float, str]:
    """`eidata ingest` with `checkout`'s code writing to `output`; (exit code, wall s, stderr)."""
    logs.mkdir(parents=True, exist_ok=True)
    job = yaml.safe_load(spec.read_text()) | {"output": str(output)}
    (logs / "spec.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "ingest", str(logs / "spec.yaml")],
        cwd=checkout,
        env={**os.environ, **ENV, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    return proc.returncode, time.perf_counter() - t0, proc.stderr


def episodes_of(output: Path, source: str) -> tuple[int, int]:
    """(committed, staged complete) canonical episodes of `source` in `output`."""
    from ingest.lerobot.staging import OWNER_FILE, is_stage_in_use

    committed = staged = 0
    for ds in (output / "datasets" / source).glob("*"):
        info = ds / "meta" / "info.json"
        with contextlib.suppress(json.JSONDecodeError, OSError):  # read at the wrong instant: the next poll
            committed += json.loads(info.read_text())["total_episodes"] if info.exists() else 0
        for st in ds.glob(".eidata/staging/*"):
            staged += (st / OWNER_FILE).exists() and not is_stage_in_use(st)
    return committed, staged


def survivors(sid: int) -> list[str]:
    """The processes of session `sid` still alive (the killed driver's: Ray's daemons, workers and agents)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if rest[0] != "Z" and int(rest[3]) == sid:
            alive.append(name)
    return alive


def killed_run(checkout: Path, spec: Path, output: Path, logs: Path, half: int, orphan_wait: float) -> dict[str, Any]:
    """The ingest SIGKILLed once `half` of `new`'s episodes are finished; what it left, then its helpers' lifetime."""
    logs.mkdir(parents=True, exist_ok=True)
    job = yaml.safe_load(spec.read_text()) | {"output": str(output)}
    (logs / "spec.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
    with (logs / "stderr.txt").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "ingest", str(logs / "spec.yaml")],
            cwd=checkout,
            env={**os.environ, **ENV, "PYTHONPATH": str(checkout)},
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its pid is its session's id: what it and its descendants share
        )
        try:
            while proc.poll() is None and sum(episodes_of(output, "new")) < half:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)  # the driver alone, as a user's `kill -9 <pid>`
            proc.wait()
            committed, staged = episodes_of(output, "new")
            t0, left = time.perf_counter(), survivors(proc.pid)
            first = sorted(set(left))
            while left and time.perf_counter() - t0 < orphan_wait:
                time.sleep(0.2)
                left = survivors(proc.pid)
            lived = time.perf_counter() - t0
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what is left of the session this benchmark started
    return {
        "finished": committed + staged,
        "committed": committed,
        "staged": staged,
        # what the killed run's processes still committed after the driver died (until they ended)
        "committed_before_rerun": episodes_of(output, "new")[0],
        "helpers_after_kill": first,
        "helpers_lived_s": round(lived, 1) if not left else f">{orphan_wait:.0f}",
    }


def digest(output: Path) -> str:
    """The datasets' bytes (every file but the writer's own `.eidata/`), as one hash."""
    h = hashlib.sha256()
    for p in sorted((output / "datasets").rglob("*")):
        if p.is_file() and ".eidata" not in p.parts:
            h.update(str(p.relative_to(output)).encode() + p.read_bytes())
    return h.hexdigest()[:16]


def measure(checkout: Path, spec: Path, base: Path, work: Path, orphan_wait: float) -> dict[str, Any]:
    ref, out = work / "uninterrupted", work / "killed"
    for d in (ref, out):
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(base, d)
    code, full_s, err = _ingest(checkout, spec, ref, work / "logs-ref")
    if code != 0:
        raise RuntimeError(f"{checkout}: the uninterrupted ingest failed: {err[-3000:]}")
    total = episodes_of(ref, "new")[0]
    kill = killed_run(checkout, spec, out, work / "logs-kill", (total + 1) // 2, orphan_wait)
    code, resumed_s, err = _ingest(checkout, spec, out, work / "logs-resume")
    if code != 0:
        raise RuntimeError(f"{checkout}: the resumed ingest failed: {err[-3000:]}")
    (work / "logs-resume" / "stderr.txt").write_text(err)
    adopted = sum(int(n) for n in re.findall(r"adopted (\d+) staged episode", err))
    kept = kill["committed_before_rerun"] + adopted
    return {
        "episodes": total,
        "uninterrupted_s": round(full_s, 1),
        **kill,
        "adopted": adopted,
        "redone": max(kill["finished"] - kept, 0),
        "resumed_s": round(resumed_s, 1),
        "identical": digest(ref) == digest(out),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=24, help="episodes of the new source (even)")
    p.add_argument("--done", type=int, default=6, help="episodes of the source already in the corpus (even)")
    p.add_argument("--frames", type=int, default=60, help="frames per episode at 30 Hz")
    p.add_argument("--orphan-wait", type=float, default=30.0, help="how long to watch the killed driver's helpers")
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "eidata-kill-resume"), help="kept for reuse")
    p.add_argument("--before", type=Path, default=None, help="an earlier commit's checkout, measured the same way")
    args = parse_args(p, {"episodes": 4, "done": 2, "frames": 40, "orphan_wait": 5.0, "workdir": ""}, "4 episodes")
    if args.smoke:
        args.workdir = tempfile.mkdtemp(prefix="eidata-kill-smoke-")
    work = Path(args.workdir)
    try:
        spec, base = prepare(work, args.episodes, args.done, args.frames)
        result: dict[str, Any] = {"episodes": args.episodes, "done": args.done, "frames": args.frames}
        for name, checkout in (("ours", ROOT), ("before", args.before)):
            if checkout is None:
                continue
            log(f"[{name}] uninterrupted, killed at half of the new source, resumed ...")
            result[name] = measure(checkout.resolve(), spec, base, work / name, args.orphan_wait)
            log(f"  {result[name]}")
        print(json.dumps(result))
    finally:
        if args.smoke:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
