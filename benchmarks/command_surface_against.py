"""The command surface (`benchmarks.command_surface`) of this checkout against another one (an older commit), command
by command on equal corpora, the runs interleaved as old, new, new, old so that the load of a shared machine falls on
both alike (issue 84: every everyday command in no more time than at 00f20645).

The corpus: `eidata ingest` of the real samples run by each checkout in turn (old, new, new, old, each into a fresh
folder: the ingest row), random-init latents by each (old, new: the latents row), then the first corpus this checkout
ingested, with its latents, replicated (`benchmarks._replicate`) to N episodes and copied (`cp -a`, the copies' hard
links kept) so that each checkout reads and writes its own. Then each command of `command_surface.commands`, the same
argv, four runs. Before each run of `catalog (built from none)` the catalog folder goes (so every dataset is parsed
and hashed again, as after the replicate step) and the real export's output folder goes before each export.

    nice -n 10 .venv/bin/python -m benchmarks.command_surface_against --old /work/wt-old --episodes 10000 \\
        --out /tmp/DIR --json FILE --timeout-s 600

The table (median of each side's two runs, both runs, exit codes, load) goes to stderr and `--json FILE`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log
from benchmarks._replicate import replicate
from benchmarks.command_surface import SMOKE_SOURCES, SOURCES, build_base, commands, eidata, measure, spec

ORDER = ("old", "new", "new", "old")
FROM_NONE = "catalog (built from none)"


def _prepare(label: str, argv: list[str], root: Path) -> None:
    """What a run of `label` must not find from the run before it."""
    if label == FROM_NONE:
        shutil.rmtree(root / "catalog", ignore_errors=True)
    if "export" in argv and "--dry-run" not in argv:
        shutil.rmtree(argv[argv.index("--out") + 1], ignore_errors=True)


def ingest_rows(
    work: Path, checkouts: dict[str, Path], sources: dict, timeout_s: float, latents: bool = True
) -> tuple[list, dict]:
    """Ingest of the real samples (old, new, new, old) and latents (old, new); each side's first corpus."""
    rows, first = [], {}
    for i, side in enumerate(ORDER):
        root = work / f"ingest-{side}-{i}" / "corpus"
        shutil.rmtree(root.parent, ignore_errors=True)
        root.parent.mkdir(parents=True)
        path = root.parent / "corpus.yaml"
        path.write_text(yaml.safe_dump(spec(root, sources), sort_keys=False))
        rows.append(
            {
                "side": side,
                **measure("ingest (the real samples)", eidata("ingest", path), 0, timeout_s, checkouts[side]),
            }
        )
        first.setdefault(side, root)
    for side in ("old", "new") if latents else ():
        argv = eidata("latents", first[side], "--random-init", "--device", "cpu")
        rows.append({"side": side, **measure("latents (random init, CPU)", argv, 0, timeout_s, checkouts[side])})
    return rows, first


def corpora(base: Path, work: Path, episodes: int, sources: dict) -> tuple[dict[str, Path], int]:
    """`base` replicated to `episodes`, one copy per side, each with its own `corpus.yaml`; the count reached."""
    new = work / "new" / "corpus"
    shutil.rmtree(work / "new", ignore_errors=True)
    shutil.rmtree(work / "old", ignore_errors=True)
    new.parent.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(base), str(new)], check=True)
    n = replicate(new, episodes)
    subprocess.run(["cp", "-a", str(work / "new"), str(work / "old")], check=True)
    roots = {"new": new, "old": work / "old" / "corpus"}
    for root in roots.values():
        (root.parent / "corpus.yaml").write_text(yaml.safe_dump(spec(root, sources), sort_keys=False))
    return roots, n


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per command both sides ran: each side's runs (seconds, exit), their median, and the load as each started."""
    out = []
    for label in dict.fromkeys(r["command"] for r in rows if r["side"] == "old"):
        row: dict[str, Any] = {"command": label}
        for side in ("old", "new"):
            mine = [r for r in rows if r["command"] == label and r["side"] == side]
            row[side] = {
                "seconds": [r["seconds"] for r in mine],
                "median_s": round(statistics.median(r["seconds"] for r in mine), 2),
                "cpu_s": [r["cpu_s"] for r in mine if "cpu_s" in r],
                "peak_tree_rss_mib": max(r["peak_tree_rss_mib"] for r in mine),
                "exit": [r["exit"] for r in mine],
                "load_1min": [r["load_1min"] for r in mine],
            }
        out.append(row)
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = "| command | old: median (runs) | new: median (runs) | new / old | CPU-s old; new | exits old; new | load |"
    lines = [head, "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        o, n = r["old"], r["new"]
        ratio = n["median_s"] / o["median_s"] if o["median_s"] else float("nan")
        runs = [f"{s['median_s']:.1f} s ({', '.join(f'{x:.1f}' for x in s['seconds'])})" for s in (o, n)]
        loads = ", ".join(f"{x:.1f}" for x in o["load_1min"] + n["load_1min"])
        cpu = "; ".join(", ".join(f"{x:.0f}" for x in side.get("cpu_s", [])) for side in (o, n))
        exits = f"{o['exit']}; {n['exit']}"
        lines.append(f"| {r['command']} | {runs[0]} | {runs[1]} | {ratio:.2f} | {cpu} | {exits} | {loads} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", type=Path, default=None, help="the other checkout (git worktree) of eidata (required)")
    p.add_argument("--episodes", type=int, default=10000)
    p.add_argument("--out", type=Path, default=None, help="work folder, kept (default: a temp folder, removed)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--timeout-s", type=float, default=600.0, help="per run")
    p.add_argument("--only", nargs="+", default=None, help="only the commands whose label holds one of these")
    p.add_argument("--no-lingbot", action="store_true", help="leave out lingbot-va's dry run (tiny Wan2.2 models)")
    p.add_argument("--no-ingest-rows", action="store_true", help="one ingest and latents (this checkout's), untimed")
    p.add_argument("--ingest-only", action="store_true", help="the ingest of the real samples alone, four runs")
    smoke = {"episodes": 8, "timeout_s": 120.0, "no_lingbot": True, "no_ingest_rows": True, "old": ROOT}
    args = parse_args(p, {**smoke, "only": ["unchanged", "query"]}, "this checkout against itself, 8 episodes")
    if args.old is None:
        p.error("--old is required")
    sources = SMOKE_SOURCES if args.smoke else SOURCES
    checkouts = {"old": args.old.resolve(), "new": ROOT}
    tmp = None if args.out else tempfile.mkdtemp(prefix="eidata-against-")
    work = args.out or Path(tmp)
    work.mkdir(parents=True, exist_ok=True)
    try:
        models = None
        if not args.no_lingbot:
            from tests.fixtures.wan import write_tiny_wan

            models = write_tiny_wan(work / "wan")
        if args.no_ingest_rows:
            base = work / "base" / "corpus"
            shutil.rmtree(base.parent, ignore_errors=True)
            base.parent.mkdir(parents=True)
            rows, first = [{"side": "new", **r} for r in build_base(base, sources, args.timeout_s)], {"new": base}
        else:
            rows, first = ingest_rows(work, checkouts, sources, args.timeout_s, not args.ingest_only)
        roots, n = (
            ({"old": work, "new": work}, 0) if args.ingest_only else corpora(first["new"], work, args.episodes, sources)
        )
        log(f"[against] {n:,} episodes")
        runs = {side: commands(roots[side], n, roots[side].parent / "out", models) for side in roots}
        for (label, old_argv), (_, new_argv) in zip(runs["old"], runs["new"], strict=True):
            if args.ingest_only:
                break
            if args.only and not any(o in label for o in args.only):
                continue
            label = FROM_NONE if label.startswith("catalog (new copies") else label
            for side in ORDER:
                argv = old_argv if side == "old" else new_argv
                _prepare(label, argv, roots[side])
                rows.append({"side": side, **measure(label, argv, n, args.timeout_s, checkouts[side])})
                if args.json:
                    args.json.write_text(json.dumps({"rows": rows}, indent=1))
        result = {"episodes": n, "old": str(checkouts["old"]), "summary": summary(rows), "rows": rows}
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
        log(table(result["summary"]))
        print(json.dumps({"failed": [f"{r['command']} ({r['side']})" for r in rows if r["exit"] != 0]}))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
