"""An unchanged rerun of `eidata ingest SPEC` (issue 25 item 5): what a no-op costs end to end, where it goes, and how
far it is from the physical floor, all in one run.

The corpus: `--episodes` small EgoDex episodes (`adapters.synthetic.egodex`: one HDF5 of hand poses and one mp4 per
episode, `--frames` frames at 30 Hz, a `--size` square camera), ingested once by the job (kept in `--workdir`, so a
second invocation starts at the reruns). Then, per repetition and in fresh processes, each contestant:

- **rerun**: `eidata ingest SPEC` as a user types it (`jobs.cli`), timed from the spawn until the command returns
  (wall) and until every process it started has ended (Ray's daemons and workers: the benchmark is their subreaper);
  CPU is every one of those processes' (getrusage of the reaped children). Its report must say that every raw
  episode was already done, and the output's datasets and catalog must be left as they were.
- **breakdown**: the same command under `python -X importtime`, with the job's phases timed (`_rerun_phases.py`):
  interpreter start, imports and CLI parse, spec load, Ray start, shared-filesystem check, discovery (listing, the
  done filter and the skip decision), committer close, catalog, Ray shutdown, exit, and the descendants still running
  after it. Import time is summed per top-level package (self time), and the heavy packages the driver loaded are
  named.
- **ours, HDF5 check off**: ours with the adapter's `check_on_discover: false` (EgoDex opens every HDF5 at discovery
  to flag broken episodes; the report's count of readable raw episodes needs that flag, so a rerun pays it too).
- `--before CHECKOUT`: the same two runs with an earlier commit's code (a `git archive` of it; same venv, same output).

Each contestant first reruns once unmeasured (reported as its warm-up): the output may come from another version, and
a rerun after a run that did not end (here: one another version made, which leaves no `job/ingest.finished`) does a
recovery pass and rebuilds the catalog once.

Beside them, the floor: `python -c pass` (the interpreter alone), and a bare Python process (stdlib only) that lists
the same files discovery lists (every `*.hdf5` under the source root and its mp4) and reads the committed record of
the output (each dataset's `meta/episodes.jsonl` lineage, the quarantine folder's listing), and finds nothing to do.

    python -m benchmarks.rerun [--episodes 1000] [--reps 3] [--workdir DIR] [--before CHECKOUT] [--smoke]
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log, machine_busy_s

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
HEAVY = ("torch", "ray", "av", "scipy", "pandas", "polars", "duckdb", "pyarrow", "cv2", "h5py", "numpy", "sklearn")
FLOOR = r"""
import json, os, sys
root, output = sys.argv[1], sys.argv[2]
found = []
for top, _, files in os.walk(root):
    for f in files:
        if f.endswith(".hdf5"):
            raw_id = os.path.relpath(os.path.join(top, f[:-5]), root)
            found.append((raw_id, os.path.isfile(os.path.join(top, f[:-5] + ".mp4"))))
done = set()
for top, _, files in os.walk(os.path.join(output, "datasets")):
    if top.endswith(os.sep + "meta") and "episodes.jsonl" in files:
        with open(os.path.join(top, "episodes.jsonl"), "rb") as fh:
            done.update(json.loads(line)["eidata"]["raw_uid"] for line in fh)
quarantine = os.listdir(os.path.join(output, "catalog", "quarantine")) if os.path.isdir(
    os.path.join(output, "catalog", "quarantine")) else []
todo = [r for r, _ in found if "egodex/default/" + r not in done]
print(json.dumps({"found": len(found), "done": len(done), "todo": len(todo), "quarantine_parts": len(quarantine)}))
"""


def _become_subreaper() -> None:
    """Orphans of our children (Ray's workers, once their raylet is gone) are re-parented to us, so we can wait for
    them and getrusage(RUSAGE_CHILDREN) counts their CPU."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _reap_all(timeout_s: float = 120.0) -> None:
    """Wait for every descendant left (re-parented to us) to exit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)
    log(f"  WARNING: descendants still running {timeout_s:.0f} s after the command exited")


def timed(cmd: list[str], cwd: Path, logs: Path) -> dict[str, Any]:
    """Run `cmd` (stdout and stderr to files under `logs`): wall until it exits and until its last descendant did,
    CPU of all of them, and the cores other processes kept busy meanwhile."""
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / "stdout.txt", logs / "stderr.txt"
    load = os.getloadavg()[0]
    ru0, busy0 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy_s()
    t_spawn, t0 = time.time(), time.perf_counter()
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fo, stderr=fe)
        code = proc.wait()
    t_exit, wall = time.time(), time.perf_counter() - t0
    _reap_all()
    t_last, total = time.time(), time.perf_counter() - t0
    ru1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy_s()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "code": code,
        "wall_s": round(wall, 3),
        "until_last_descendant_s": round(total, 3),
        "cpu_s": round(cpu, 3),
        "other_cores": round(max(0.0, (busy1 - busy0 - cpu) / total), 2),
        "loadavg_1m": round(load, 2),
        "t_spawn": t_spawn,
        "t_exit": t_exit,
        "t_last": t_last,
        "stdout": out.read_text(),
        "stderr_file": str(err),
    }


def import_table(stderr: str) -> dict[str, Any]:
    """`-X importtime` lines: self time summed per top-level package, and which heavy packages were loaded."""
    per: Counter[str] = Counter()
    loaded: set[str] = set()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = line.split(":", 1)[1].split("|")
        if not own.strip().isdigit():
            continue  # the header
        top = name.strip().split(".")[0]
        per[top] += int(own)
        loaded.add(top)
    return {
        "import_s": round(sum(per.values()) / 1e6, 3),
        "top": [(k, round(v / 1e6, 3)) for k, v in per.most_common(10)],
        "heavy_loaded": sorted(loaded & set(HEAVY)),
    }


def phase_table(run: dict[str, Any], phases: dict[str, Any]) -> list[tuple[str, float]]:
    """The breakdown, in order; the rows add up to the run's time until its last descendant ended."""
    marks = sorted(phases["marks"], key=lambda m: (m[1], -m[2]))
    job = next((m for m in marks if m[0] == "job"), None)
    rows = [("interpreter start", phases["t0"] - run["t_spawn"])]
    if job is None:
        rows.append(("imports + job", phases["t_end"] - phases["t0"]))
    else:
        rows.append(("imports + CLI parse", job[1] - phases["t0"]))
        inner, end = [], job[1]
        for name, t, u in marks:
            if name == "job" or not job[1] <= t <= job[2]:
                continue
            nested = t < end
            inner.append(((" - " if nested else "") + name, u - t))
            end = max(end, u) if not nested else end
        top = sum(d for n, d in inner if not n.startswith(" - "))
        rows += inner
        rows.append(("rest of the job", job[2] - job[1] - top))
        rows.append(("report + return", phases["t_end"] - job[2]))
    rows.append(("interpreter exit", run["t_exit"] - phases["t_end"]))
    rows.append(("descendants after exit", run["t_last"] - run["t_exit"]))
    return [(n, round(d, 3)) for n, d in rows]


def output_digest(output: Path) -> str:
    """Names, sizes and mtimes of every file under the output's datasets/ and catalog/: a rerun must change none."""
    h = hashlib.sha256()
    for sub in ("datasets", "catalog"):
        for p in sorted((output / sub).rglob("*")):
            if p.is_file() and p.name != ".rebuild.lock":
                st = p.stat()
                h.update(f"{p.relative_to(output)} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def eidata() -> list[str]:
    """`eidata` as the console script runs it, with the code of the working directory (the checkout under test)."""
    return [sys.executable, "-c", "import sys; from jobs.cli import main; sys.exit(main())"]


def prepare(args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    """The corpus and its first ingest, written once into the work dir (reused when the parameters match)."""
    work = Path(args.workdir)
    params = {"episodes": args.episodes, "frames": args.frames, "size": args.size}
    raw, output, spec = work / "raw", work / "out", work / "spec.yaml"
    stamp = work / "prepared.json"
    if stamp.exists() and json.loads(stamp.read_text())["params"] == params:
        log(f"[corpus] reusing {work}")
        return spec, output, json.loads(stamp.read_text())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    from adapters.synthetic.egodex import write_egodex

    t0 = time.perf_counter()
    write_egodex(
        raw,
        tasks=("add_remove_lid", "basic_pick_place"),
        episodes_per_task=args.episodes // 2,
        num_frames=args.frames,
        height=args.size,
        width=args.size,
        old_episode=False,
    )
    written_s = time.perf_counter() - t0
    spec_dict = {
        "output": str(output),
        "sources": [{"name": "egodex", "adapter": "egodex", "root": str(raw)}],
        # the writer's mid-episode confidence dip would cut a 1.2-s episode under min_length_frames: masked instead
        "canonicalize": {"validity": {"policy": "mask"}},
        "codec": {"preset": "12"},
        "parallelism": {"num_cpus": 2},
    }
    spec.write_text(yaml.safe_dump(spec_dict, sort_keys=False))
    log(f"[corpus] {args.episodes} episodes written in {written_s:.1f} s; first ingest ...")
    first = timed([*eidata(), "ingest", str(spec)], args.ours, work / "logs" / "first")
    row = next((line.split() for line in first["stdout"].splitlines() if line.startswith("egodex ")), None)
    if first["code"] != 0 or row is None or int(row[1]) + int(row[2]) != args.episodes:
        raise RuntimeError(f"first ingest failed: {first['stdout']}\n{Path(first['stderr_file']).read_text()[-3000:]}")
    log(f"[corpus] first ingest: {first['wall_s']:.1f} s, {first['cpu_s']:.1f} CPU-s; {row[1]} written, {row[2]} q.")
    first |= {"written": int(row[1]), "quarantined": int(row[2])}  # some synthetic episodes hold still: rejected
    info = {"params": params, "corpus_written_s": round(written_s, 1), "first_ingest": _public(first)}
    stamp.write_text(json.dumps(info))
    return spec, output, info


def _public(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if not k.startswith("t_") and k not in ("stdout", "stderr_file")}


def _unchecked(spec: Path) -> Path:
    """The same job with the EgoDex adapter's per-file HDF5 check at discovery off (`check_on_discover: false`): what
    the adapter's own check costs a rerun. The output and its done record are the same."""
    job = yaml.safe_load(spec.read_text())
    job["sources"][0]["options"] = {"check_on_discover": False}
    path = spec.with_name("spec_unchecked.yaml")
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def rerun(checkout: Path, spec: Path, output: Path, episodes: int, logs: Path, breakdown: bool) -> dict[str, Any]:
    """One unchanged rerun from `checkout` (plain, or under -X importtime with its phases timed)."""
    before = output_digest(output)
    if breakdown:
        code = (ROOT / "benchmarks" / "_rerun_phases.py").read_text()
        out_json = logs / "phases.json"
        logs.mkdir(parents=True, exist_ok=True)
        run = timed([sys.executable, "-X", "importtime", "-c", code, str(spec), str(out_json)], checkout, logs)
    else:
        run = timed([*eidata(), "ingest", str(spec)], checkout, logs)
    stderr = Path(run["stderr_file"]).read_text()
    if run["code"] != 0 or f"{episodes} raw episodes already done" not in run["stdout"]:
        raise RuntimeError(f"rerun at {checkout} was not a no-op: {run['stdout']}\n{stderr[-3000:]}")
    result = _public(run) | {"output_unchanged": output_digest(output) == before}
    if breakdown:
        result["phases"] = phase_table(run, json.loads(out_json.read_text()))
        result["imports"] = import_table(stderr)
    return result


def floor(spec: Path, output: Path, logs: Path) -> dict[str, dict[str, Any]]:
    root = yaml.safe_load(spec.read_text())["sources"][0]["root"]
    bare = timed([sys.executable, "-c", FLOOR, root, str(output)], ROOT, logs / "floor")
    interp = timed([sys.executable, "-c", "pass"], ROOT, logs / "interpreter")
    bare["found"] = json.loads(bare["stdout"])
    return {"floor": _public(bare), "interpreter": _public(interp)}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--frames", type=int, default=36, help="frames per episode at 30 Hz (1.2 s)")
    p.add_argument("--size", type=int, default=32, help="camera height and width")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "eidata-rerun"), help="kept for reuse")
    p.add_argument("--ours", type=Path, default=ROOT, help="the checkout measured as ours (default: this one)")
    p.add_argument("--before", type=Path, default=None, help="an earlier commit's checkout: its rerun runs too")
    p.add_argument("--json", default=None, help="also write the result here")
    args = parse_args(p, {"episodes": 4, "reps": 1, "workdir": ""}, "4 episodes, one repetition")
    if args.smoke:
        args.workdir = tempfile.mkdtemp(prefix="eidata-rerun-smoke-")
    args.ours = args.ours.resolve()
    _become_subreaper()
    try:
        spec, output, info = prepare(args)
        contestants = {"ours": (args.ours, spec), "ours, HDF5 check off": (args.ours, _unchecked(spec))}
        contestants |= {"before": (args.before.resolve(), spec)} if args.before else {}
        runs: dict[str, list[dict[str, Any]]] = {}
        for name, (checkout, sp) in contestants.items():  # an output another version made may need a recovery pass
            log(f"[warm-up] {name} rerun ...")
            warm = rerun(checkout, sp, output, args.episodes, Path(args.workdir) / "logs" / f"{name}-warmup", False)
            runs[f"{name} warm-up"] = [warm]
        for rep in range(args.reps):
            for name, (checkout, sp) in contestants.items():
                for kind in ("rerun", "breakdown"):
                    log(f"[rep {rep + 1}] {name} {kind} ...")
                    logs = Path(args.workdir) / "logs" / f"{name}-{kind}-{rep}".replace(" ", "_").replace(",", "")
                    r = rerun(checkout, sp, output, args.episodes, logs, breakdown=kind == "breakdown")
                    runs.setdefault(f"{name} {kind}", []).append(r)
                    log(
                        f"  {r['wall_s']:.2f} s wall, {r['until_last_descendant_s']:.2f} s to the last descendant,"
                        f" {r['cpu_s']:.2f} CPU-s, load {r['loadavg_1m']}, other {r['other_cores']} cores"
                    )
            for name, r in floor(spec, output, Path(args.workdir) / "logs" / f"floor-{rep}").items():
                runs.setdefault(name, []).append(r)
        summary = {
            name: {k: _median(rs, k) for k in ("wall_s", "until_last_descendant_s", "cpu_s", "other_cores")}
            for name, rs in runs.items()
        }
        _print(summary, runs)
        result = {"episodes": args.episodes, "reps": args.reps, "prepared": info, "median": summary, "runs": runs}
        result["versions"] = _versions({name: checkout for name, (checkout, _) in contestants.items()})
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        print(json.dumps(result))
    finally:
        if args.smoke:
            shutil.rmtree(args.workdir, ignore_errors=True)


def _print(summary: dict[str, dict[str, float]], runs: dict[str, list[dict[str, Any]]]) -> None:
    log(f"\n{'contestant':22s} {'wall s':>8s} {'+desc s':>8s} {'CPU s':>7s} {'other':>6s}   (medians)")
    for name, s in summary.items():
        cols = (s["wall_s"], s["until_last_descendant_s"], s["cpu_s"], s["other_cores"])
        log(f"{name:22s} {cols[0]:8.2f} {cols[1]:8.2f} {cols[2]:7.2f} {cols[3]:6.2f}")
    for name, rs in runs.items():
        if name.endswith("breakdown"):
            best = min(rs, key=lambda r: r["until_last_descendant_s"])
            log(f"\n{name} (fastest repetition): phases, s")
            for phase, d in best["phases"]:
                log(f"  {phase:34s} {d:7.3f}")
            imp = best["imports"]
            log(f"  imports (self time, -X importtime): {imp['import_s']:.3f} s; top: {imp['top'][:8]}")
            log(f"  heavy packages loaded by the driver: {imp['heavy_loaded']}")


def _versions(contestants: dict[str, Path]) -> dict[str, Any]:
    import duckdb
    import pyarrow
    import ray

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "python": sys.version.split()[0],
        "ray": ray.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "head": head.stdout.strip(),
        "checkouts": {k: str(v) for k, v in contestants.items()},
    }


if __name__ == "__main__":
    main()
