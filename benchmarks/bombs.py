"""The bombs of reliability review 5 (issue 45 item 3) and their hidden variants, each discovered and read by its
adapter in a parse process under the operating system's memory limit (issue 84: `adapters.hostile.sandbox`), as an
ingest reads an episode: bytes on disk, bytes declared, the parse process's peak (under a cgroup), wall time and the
outcome (the quarantine reason, or what was read).

Inputs are built by `tests.fixtures.bombs` as the review built them: MCAP chunk bombs (zstd 6 GiB, lz4 4 GiB, honest
and lying about their size), ROS 1 chunk bombs (bz2 4 GiB, lz4 lying), a bag with one message at 1 ns and the rest
at 1.7e18 ns cut by 10 s windows, the EgoDex (80e6, 4, 4) camera transform and 137 datasets, AgiBot / Genie /
RoboMIND / Zarr declared sizes and a sparse 2 GiB JSON sidecar. The review's unbounded readers took 2.1-2.3 GB
before its 3 GB kill (1a-1c, 1j) and 3 GiB (EgoDex).

    python -m benchmarks.bombs [--mib 640] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from adapters.hostile.limits import DEFAULT_MIB, mechanism
from adapters.hostile.sandbox import answer
from adapters.registry import get_adapter
from tests.fixtures import bombs


def on_disk(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=DEFAULT_MIB, help="the parse process's memory limit")
    parser.add_argument("--smoke", action="store_true", help="the declared-size variants only (each a second)")
    args = parser.parse_args()
    cases = bombs.DECLARED if args.smoke else {**bombs.REVIEW, **bombs.VARIANTS, **bombs.DECLARED}
    print(f"memory limit {args.mib} MiB ({mechanism()})")
    print("| bomb | bytes on disk | bytes declared | peak, MiB | s | outcome |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, build) in enumerate(cases.items()):
            root = Path(tmp) / f"b{k}"
            root.mkdir()
            bomb = build(root)
            adapter = get_adapter(bomb.adapter, bomb.options)
            t = time.perf_counter()
            refs = answer(lambda a=adapter, r=root: list(a.discover(r)), mib=args.mib, what="discovery")
            outcomes = [bombs.caged(adapter, ref, args.mib) for ref in refs if ref.error is None]
            wall = time.perf_counter() - t
            flagged = [f"discovery: {ref.error.reason}" for ref in refs if ref.error is not None]
            said = [o.reason if o else "read" for o in outcomes] + flagged
            peaks = [o.peak for o in outcomes if o and o.peak is not None]
            peak = f"{max(peaks):.0f}" if peaks else "-"
            what = "; ".join(dict.fromkeys(said))[:300].replace("|", "/")
            print(f"| {name} | {on_disk(bomb.file):,} | {bomb.declared:,} | {peak} | {wall:.1f} | {what} |")
            rows.append({"bomb": name, "declared": bomb.declared, "peak_mib": peak, "s": wall, "outcomes": said})
    print(json.dumps({"mib": args.mib, "mechanism": mechanism(), "bombs": rows}))


if __name__ == "__main__":
    main()
