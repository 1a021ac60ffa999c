"""The reading-budget bombs of reliability review 5 (issue 45 item 3) and their hidden variants, each discovered and
read by its adapter in a child process under an address-space cap: bytes on disk, bytes declared, peak resident
memory, wall time and the outcome (the quarantine reason, or what was read).

Inputs are built by `tests.fixtures.bombs` as the review built them: MCAP chunk bombs (zstd 6 GiB, lz4 4 GiB, honest
and lying about their size), ROS 1 chunk bombs (bz2 4 GiB, lz4 lying), a bag with one message at 1 ns and the rest
at 1.7e18 ns cut by 10 s windows, the EgoDex (80e6, 4, 4) camera transform and 137 datasets each within the budget,
AgiBot / Genie / RoboMIND / Zarr declared sizes and a sparse 2 GiB JSON sidecar. The review's unbounded readers took
2.1-2.3 GB before its 3 GB kill (1a-1c, 1j) and 3 GiB (EgoDex).

    python -m benchmarks.bombs [--cap-gib 3] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from schemas.settings import current
from tests.fixtures import bombs
from tests.fixtures.memory_cap import run_capped

READ = """
from adapters.base import AdapterError
from adapters.registry import get_adapter
adapter = get_adapter({adapter!r}, {options!r})
outcomes = []
refs = list(adapter.discover({root!r}))
for ref in refs:
    if ref.error is not None:
        outcomes.append("discovery: " + ref.error.reason)
        continue
    try:
        ep = adapter.read(ref)
        outcomes.append("read")
    except AdapterError as e:
        outcomes.append(e.reason)
result = {{"episodes": len(refs), "outcomes": outcomes}}
"""


def on_disk(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files)


def summary(outcomes: list[str]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    parts = [f"{n} x {o}" if n > 1 else o for o, n in counts.items()]
    return "; ".join(parts)[:150].replace("|", "/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-gib", type=float, default=3.0, help="RLIMIT_AS of each child")
    parser.add_argument("--smoke", action="store_true", help="the declared-size variants only (each a second)")
    args = parser.parse_args()
    cap = int(args.cap_gib * (1 << 30))
    cases = bombs.DECLARED if args.smoke else {**bombs.REVIEW, **bombs.VARIANTS, **bombs.DECLARED}
    base = run_capped("import adapters.registry, adapters.rosbag.adapter, adapters.egodex.adapter\nresult=0", cap)
    budget = f"{current().max_read_bytes:,} bytes (setting max_read_bytes)"
    print(f"reading budget {budget}; cap {args.cap_gib} GiB; imports only: peak RSS {base.peak_rss / 2**20:.0f} MiB")
    print("| bomb | bytes on disk | bytes declared | peak RSS, MiB | s | episodes | outcome |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, build) in enumerate(cases.items()):
            root = Path(tmp) / f"b{k}"
            root.mkdir()
            bomb = build(root)
            t = time.perf_counter()
            code = READ.format(adapter=bomb.adapter, options=bomb.options, root=str(root))
            run = run_capped(code, cap, timeout=300)
            wall = time.perf_counter() - t
            peak = f"{run.peak_rss / 2**20:.0f}" if run.peak_rss else "killed"
            res = run.result or {"episodes": "-", "outcomes": [run.stderr.strip().splitlines()[-1][-120:]]}
            disk, what = on_disk(bomb.file), summary(res["outcomes"])
            print(f"| {name} | {disk:,} | {bomb.declared:,} | {peak} | {wall:.1f} | {res['episodes']} | {what} |")
            rows.append({"bomb": name, "disk": disk, "declared": bomb.declared, "peak_rss_mib": peak, "s": wall})
    print(json.dumps({"cap_gib": args.cap_gib, "imports_peak_rss_mib": round(base.peak_rss / 2**20), "bombs": rows}))


if __name__ == "__main__":
    main()
