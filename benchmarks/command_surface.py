"""Issue 75 item 3: every everyday command at 1k, 10k and 100k episodes of real recordings, its time and the peak
resident memory of its whole process tree.

The corpus: `eidata ingest` of real samples (tests/REAL_SAMPLES.md, through `tests.realdata`; `SOURCES`: the Unitree
G1 teleoperation set, the GR00T GR1 sample with its two cameras, the Bridge shard, the SO-101 v3.0 recording), then
`eidata latents --random-init` (so that train's index finds latents), then its datasets replicated
(`benchmarks._replicate`: hard links, rewritten lineage) until it holds N episodes; the catalog is built by the project
(`eidata catalog`, the first command timed at each size). Sizes are built one after the other in the same folder. The
figures and what bounds each miss: benchmarks/COMMAND_SURFACE.md.

Each command runs as a user runs it (`python -m jobs.cli ...`, its default limits) in a process group of its own; its
process tree's resident memory is summed from /proc every 20 ms (`benchmarks._ingest_measure.TreeSampler`), and the
largest VmHWM of one process in it is kept beside it. A command past `--timeout-s` gets SIGTERM, then SIGKILL 10 s on,
and is recorded as `timeout` with what it printed last. Train's index build runs `training.episodes.build_index` as
the trainer calls it, in a process of its own. The real export is LeRobot v3.0 of a manifest of about 1,000 episodes
(`hash(episode_uid) % (N / 1000) = 0`).

Progress and the table go to stderr; `--json FILE` gets every row; the last stdout line is one JSON object.

    nice -n 10 .venv/bin/python -m benchmarks.command_surface --sizes 1000 10000 [--out DIR] [--json FILE]
    .venv/bin/python -m benchmarks.command_surface --smoke  # two G1 episodes, then 4 and 8: measures nothing
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from benchmarks._cli import parse_args
from benchmarks._ingest_measure import TreeSampler
from benchmarks._machine import ROOT, log
from benchmarks._replicate import episodes_of, originals, replicate
from tests import processes
from tests.realdata import realdata

# source -> (adapter, the real sample, episodes read: None for all)
SOURCES = {
    "g1": ("lerobot", "unitree_g1_policy_train", None),
    "gr00t": ("lerobot", "gr00t_robot_sim_picknplace", None),
    "bridge": ("oxe", "octo_bridge_debug_rlds", None),
    "so101": ("lerobot", "lerobot_so101_record_test", None),
}
SMOKE_SOURCES = {"g1": ("lerobot", "unitree_g1_policy_train", 2)}
SAMPLE_S = 0.02
KILL_GRACE_S = 10.0
QUERY = "SELECT source, tier, count(*) AS episodes, sum(duration_s) AS seconds FROM episodes GROUP BY ALL ORDER BY ALL"
INDEX = (  # as `eidata train` builds it (training/trainer.py): the tiny preset's model, its data loader's settings
    "import sys; from training.config import DataConfig, config_from_preset; "
    "from training.episodes import build_index; "
    "cfg = config_from_preset('tiny', sys.argv[1], data=DataConfig(num_workers=0)); "
    "index = build_index(sys.argv[1], 'train', cfg.model, cfg.data); "
    "print(f'{len(index)} samples of {index.report.episodes} episodes')"
)
EVERY, CAMERAS, K1 = "every", "cameras", "k1"


def spec(output: Path, sources: dict[str, tuple[str, str, int | None]]) -> dict[str, Any]:
    rows = []
    for name, (adapter, sample, most) in sources.items():
        row: dict[str, Any] = {"name": name, "adapter": adapter, "root": str(realdata(sample))}
        if most is not None:
            row["options"] = {"max_episodes": most}
        rows.append(row)
    return {"output": str(output), "sources": rows, "parallelism": {"num_cpus": 2}}


def measure(label: str, argv: list[str], n: int, timeout_s: float, checkout: Path = ROOT) -> dict[str, Any]:
    """Run `argv` in a group of its own, with the code of `checkout` (a git checkout of eidata), its tree's memory
    sampled; one row of the table."""
    sampler = TreeSampler(SAMPLE_S)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(checkout)}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = processes.start(argv, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler.start()
    status: int | str
    try:
        out, err = proc.communicate(timeout=timeout_s)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        processes.kill_group(proc, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=KILL_GRACE_S)
            status = f"timeout, then exit {proc.returncode} on SIGTERM"
        except subprocess.TimeoutExpired:
            processes.kill_group(proc)
            out, err = proc.communicate()
            status = "timeout, alive 10 s after SIGTERM: SIGKILLed"
    seconds = time.perf_counter() - t0
    sampler.stop()
    processes.kill_group(proc)  # anything of its group left
    said = (err or "").strip() if status != 0 else (out or "").strip().splitlines()[-1:]
    row = {
        "command": label,
        "episodes": n,
        "seconds": round(seconds, 2),
        "peak_tree_rss_mib": round(sampler.max_tree_rss_kb / 1024, 1),
        "max_process_hwm_mib": round(max((p["hwm_kb"] for p in sampler.procs.values()), default=0) / 1024, 1),
        "cpu_s": round(sampler.cpu_s(), 1),  # of the tree's processes, each as last sampled: less of the load's noise
        "exit": status,
        "load_1min": round(load, 2),  # the machine's load average as it started
        "argv": " ".join(argv[2:] if argv[1] == "-m" else argv[3:]),
        "said": said[-600:] if isinstance(said, str) else "".join(said)[:400],  # its error, or its last line
    }
    log(f"  {label:<34} {n:>7} {row['seconds']:>8.2f} s {row['peak_tree_rss_mib']:>8.1f} MiB  exit {status}")
    return row


def eidata(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "jobs.cli", *map(str, args)]


def commands(root: Path, n: int, work: Path, models: dict[str, Path] | None) -> Iterator[tuple[str, list[str]]]:
    """(label, argv) of every command timed at one size, in order (curate before what reads its manifests)."""
    native = ["--action-space", "native"]
    yield "ingest (rerun: nothing to do)", eidata("ingest", root.parent / "corpus.yaml")
    yield "catalog (new copies hashed)", eidata("catalog", root)
    yield "catalog (unchanged)", eidata("catalog", root)
    yield "query", eidata("query", root, QUERY)
    yield "curate (every episode)", eidata("curate", root, "--name", EVERY, "--where", "true", "--overwrite")
    yield (
        "curate (episodes with a camera)",
        eidata("curate", root, "--name", CAMERAS, "--where", "len(cameras) > 0", "--overwrite"),
    )
    k1 = f"hash(episode_uid) % {max(1, round(n / 1000))} = 0"
    yield "curate (~1k episodes)", eidata("curate", root, "--name", K1, "--where", k1, "--overwrite")
    yield "report", eidata("report", root, "--out", work / "report.html")
    uid = _first_g1(root)
    if uid is not None:
        yield "report --episode (G1)", eidata("report", root, "--episode", uid, "--out", work / "g1.html")
    yield "validate", eidata("validate", root)
    yield "inspect (G1 dataset)", eidata("inspect", root / "datasets" / "g1" / "unitree_g1_policy_train")
    dry = {
        "gr00t": ["--manifest", EVERY],
        "lerobot-v3": ["--manifest", EVERY, *native],
        "lerobot-v21": ["--manifest", EVERY, *native],
        "lda": ["--manifest", CAMERAS],
    }
    if models is not None:
        # every dataset: lingbot-va refuses --manifest (it exports whole datasets)
        dry["lingbot-va"] = [f"--{k.replace('_', '-')}={v}" for k, v in models.items()]
    for fmt, extra in dry.items():
        yield (
            f"export {fmt} --dry-run",
            eidata("export", root, "--format", fmt, "--out", work / fmt, "--dry-run", *extra),
        )
    yield (
        "export lerobot-v3 (~1k episodes)",
        eidata("export", root, "--format", "lerobot-v3", "--out", work / "v3", "--manifest", K1, *native),
    )
    yield "latents --dry-run", eidata("latents", root, "--random-init", "--device", "cpu", "--dry-run")
    yield "train index build (every episode)", [sys.executable, "-c", INDEX, str(root / "manifests" / EVERY)]


def _first_g1(root: Path) -> str | None:
    import pyarrow.parquet as pq

    from jobs.catalog.parts import parquet_files
    from schemas.corpus import EPISODES_DIR

    uids = [
        u for p in parquet_files(root, EPISODES_DIR) for u in pq.read_table(p, columns=["episode_uid"])[0].to_pylist()
    ]
    return min((u for u in uids if u.startswith("g1/")), default=None)


def growth(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per command, the exponent of seconds against episodes between its two largest sizes that ran (exit 0)."""
    out = {}
    for label in dict.fromkeys(r["command"] for r in rows):
        done = sorted((r["episodes"], r["seconds"]) for r in rows if r["command"] == label and r["exit"] == 0)
        if len(done) >= 2 and done[-1][0] > done[-2][0] and done[-2][1] > 0:
            (n1, t1), (n2, t2) = done[-2], done[-1]
            out[label] = round(math.log(t2 / t1) / math.log(n2 / n1), 2)
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = "| command | episodes | seconds | CPU-s | tree peak RSS, MiB | largest VmHWM, MiB | load | exit |"
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(
            f"| {r['command']} | {r['episodes']:,} | {r['seconds']:.2f} | {r['cpu_s']:.1f} | "
            f"{r['peak_tree_rss_mib']:.0f} | {r['max_process_hwm_mib']:.0f} | {r['load_1min']:.1f} | {r['exit']} |"
        )
    return "\n".join(lines)


def build_base(root: Path, sources: dict[str, tuple[str, str, int | None]], timeout_s: float) -> list[dict]:
    """The real corpus: ingest, then random-init latents of its main cameras (train's index reads them)."""
    spec_path = root.parent / "corpus.yaml"
    spec_path.write_text(yaml.safe_dump(spec(root, sources), sort_keys=False))
    rows = [measure("ingest (the real samples)", eidata("ingest", spec_path), 0, timeout_s)]
    rows.append(
        measure("latents (random init, CPU)", eidata("latents", root, "--random-init", "--device", "cpu"), 0, timeout_s)
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--out", type=Path, default=None, help="work folder, kept (default: a temp folder, removed)")
    p.add_argument("--json", type=Path, default=None, help="write every row here")
    p.add_argument("--timeout-s", type=float, default=900.0, help="per command")
    p.add_argument("--only", nargs="+", default=None, help="only the commands whose label holds one of these")
    p.add_argument("--no-lingbot", action="store_true", help="leave out lingbot-va's dry run (tiny Wan2.2 models)")
    args = parse_args(p, {"sizes": [4, 8], "timeout_s": 120.0, "no_lingbot": True}, "two G1 episodes, 4 and 8")
    sources = SMOKE_SOURCES if args.smoke else SOURCES
    tmp = None if args.out else tempfile.mkdtemp(prefix="eidata-surface-")
    work = args.out or Path(tmp)
    work.mkdir(parents=True, exist_ok=True)
    root = work / "corpus"
    try:
        models = None
        if not args.no_lingbot:
            from tests.fixtures.wan import write_tiny_wan

            models = write_tiny_wan(work / "wan") if not (work / "wan").is_dir() else _wan(work / "wan")
        rows = [] if (root / "datasets").is_dir() else build_base(root, sources, args.timeout_s)
        base = sum(episodes_of(d) for d in originals(root))  # the copies a larger size made are kept until used
        for r in rows:
            r["episodes"] = base
        for size in sorted(args.sizes):
            t0 = time.perf_counter()
            n = replicate(root, size)
            log(f"[surface] {n:,} episodes ({time.perf_counter() - t0:.1f} s to replicate)")
            scratch = work / f"out-{n}"
            for label, argv in commands(root, n, scratch, models):
                if args.only and not any(o in label for o in args.only):
                    continue
                rows.append(measure(label, argv, n, args.timeout_s))
                if args.json:
                    args.json.write_text(json.dumps({"rows": rows}, indent=1))
            shutil.rmtree(scratch, ignore_errors=True)
        log(table(rows))
        summary = {"rows": rows, "growth_exponent": growth(rows), "sizes": args.sizes, "smoke": args.smoke}
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
        print(
            json.dumps(
                {
                    "commands": len(rows),
                    "failed": [r["command"] for r in rows if r["exit"] != 0],
                    "growth_exponent": summary["growth_exponent"],
                }
            )
        )
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _wan(folder: Path) -> dict[str, Path]:
    return {k: folder / k for k in ("vae", "text_encoder", "tokenizer")}


if __name__ == "__main__":
    main()
