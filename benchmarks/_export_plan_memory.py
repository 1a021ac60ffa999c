"""Issue 84 item 4: a LeRobot v3 export's plan of a whole manifest, its time and peak resident memory, in this process.

It plans as `eidata export ROOT --format lerobot-v3 --manifest NAME` does (`job.export_corpus`: `manifest_groups`, then
`manifest_plan` per group) and writes nothing; the catalog is not opened, so a corpus replicated without one can be
planned. The last stdout line is one JSON object: episodes planned, groups, wall and CPU seconds, peak RSS
(VmHWM, `benchmarks._machine.peak_rss_mb`: `ru_maxrss` carries the spawning process's peak) in MiB.

    .venv/bin/python -m benchmarks._export_plan_memory ROOT every --action-space native

A measurement run, not a benchmark of the smoke suite (its name starts with `_`): it needs a replicated corpus of the
size measured (100k episodes for issue 84's figures, benchmarks/COMMAND_SURFACE.md), which no smoke run builds.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from adapters.storage.corpus import Corpus
from benchmarks._machine import peak_rss_mb
from jobs.export.lerobot_v3.job import manifest_groups
from jobs.export.lerobot_v3.plan import manifest_plan
from schemas.actions import ActionSpace


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path)
    p.add_argument("manifest")
    p.add_argument("--action-space", default=None, choices=[s.value for s in ActionSpace])
    args = p.parse_args()
    t0 = time.perf_counter()
    space = ActionSpace(args.action_space) if args.action_space else None
    mdir = args.root / "manifests" / args.manifest
    with Corpus.read(args.root, None, meta=True) as corpus:
        settled = manifest_groups(corpus, mdir, space, False)
        plans = [manifest_plan(corpus, mdir, None, group=g) for g in settled.groups]
    seconds = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu = use.ru_utime + use.ru_stime
    episodes = sum(len(p.episodes) for p in plans)
    out = {"episodes": episodes, "groups": len(plans), "seconds": round(seconds, 1)}
    print(json.dumps(out | {"cpu_seconds": round(cpu, 1), "peak_mib": round(peak_rss_mb())}))


if __name__ == "__main__":
    main()
