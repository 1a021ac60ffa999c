"""Commit throughput of the ingest job: staged episodes committed by 1, 2 and 4 committer actors, next to the old
single committer inside the driver.

Episodes are staged once for real (`jobs.ingest.worker.process_episode` on synthetic AgiBot and EgoDex raw episodes of
about `--rows` rows at 10 Hz, a 224x224 camera), then each staging folder is copied (a copy is what a worker would have
staged) into `--datasets` datasets, `--episodes` per dataset. Each contestant commits the same copies through the
job's own code (`jobs.ingest.commit.Committer`, results fed in the job's interleaved order); the datasets written by
every contestant must be byte-identical. Reported: episodes/s, ms per episode, and the driver's own CPU ms per
episode (what is left of the single-driver ceiling).

    python -m benchmarks.commit [--episodes 60] [--datasets 8] [--rows 300] [--smoke]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._cli import parse_args
from benchmarks._machine import log, machine_busy_s, wait_quiet

if TYPE_CHECKING:
    from jobs.ingest.task import Staged


def _templates(tmp: Path, rows: int) -> list[Staged]:
    """One staged result per source (a real worker's output), the raw episodes about `rows` rows at 10 Hz."""
    from adapters.synthetic.agibot import EpisodeSpec, write_agibot
    from adapters.synthetic.egodex import write_egodex
    from jobs.ingest.task import EpisodeTask, Staged, TaskSettings
    from jobs.ingest.worker import process_episode
    from jobs.spec_models import JobSpec, SourceSpec
    from tests.fixtures.discovery import discover

    write_agibot(tmp / "raw/agibot", [EpisodeSpec(327, 700_000, rows * 3)], height=224, width=224)
    write_egodex(
        tmp / "raw/egodex", episodes_per_task=1, tasks=("add_remove_lid",), num_frames=rows * 3, height=224, width=224
    )
    sources = [
        SourceSpec(name="agibot", adapter="agibot", root=tmp / "raw/agibot"),
        SourceSpec(name="egodex", adapter="egodex", root=tmp / "raw/egodex"),
    ]
    spec = JobSpec(output=tmp / "templates", sources=sources)
    out = []
    for it in discover(spec)[0]:
        result = process_episode(EpisodeTask(it, TaskSettings.of(spec, spec.output)))
        if not isinstance(result, Staged):
            raise RuntimeError(f"template {it.uid} was not staged: {result}")
        out.append(result)
    return out


def _copies(templates: list[Staged], output: Path, datasets: int, episodes: int) -> list[Staged]:
    """Staged results for `datasets` x `episodes` episodes, interleaved across datasets as the job feeds them."""
    from dataclasses import replace

    from jobs.ingest.task import Staged

    per_dataset = []
    for d in range(datasets):
        tpl = templates[d % len(templates)]
        ep = tpl.episodes[0]
        dataset = f"datasets/bench{d:02d}/{Path(ep.dataset).name}"
        results = []
        for k in range(episodes):
            stage = output / dataset / ".eidata/staging" / uuid.uuid4().hex
            shutil.copytree(ep.staged.stage_dir, stage)
            staged = ep.staged.model_copy(update={"stage_dir": stage, "label": f"{ep.staged.label}-{k}"})
            results.append(Staged(f"bench{d:02d}/{k}", (replace(ep, dataset=dataset, staged=staged),)))
        per_dataset.append(results)
    return [per_dataset[d][k] for k in range(episodes) for d in range(datasets)]


def _hash(output: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((output / "datasets").rglob("*")):
        if p.is_file() and ".eidata" not in p.parts:
            h.update(str(p.relative_to(output)).encode() + p.read_bytes())
    return h.hexdigest()


def _run(name: str, committers: int, results: list[Staged], spec: Any) -> dict[str, Any]:
    """`committers` actors; 0: the old way, every commit in the driver (`Committer(committers=0)`)."""
    import ray

    from adapters.base import EpisodeRef
    from jobs.ingest.commit import Committer
    from jobs.ingest.quarantine import QuarantineWriter
    from jobs.ingest.task import WorkItem

    source = spec.sources[0]
    items = [
        WorkItem(i, source, EpisodeRef(adapter="x", source=source.name, subset="s", raw_id=r.uid, paths=()))
        for i, r in enumerate(results)
    ]
    committer = Committer(spec, {}, QuarantineWriter(spec.output), committers=committers)
    for _ in range(committers):  # started and answering before the clock starts: start-up is not commit time
        committer.start_actor()
    ray.get([a.close.remote() for a in committer.actors])
    busy0, cpu0, t0 = machine_busy_s(), time.process_time(), time.perf_counter()
    for it, r in zip(items, results, strict=True):
        committer.accept(it, r)
    committer.close()
    wall = time.perf_counter() - t0
    if committer.tallies[source.name].written != len(results):
        raise RuntimeError(f"{name}: {committer.tallies[source.name]}")
    n = len(results)
    return {
        "contestant": name,
        "committers": committers,
        "episodes": n,
        "seconds": round(wall, 3),
        "episodes_per_s": round(n / wall, 1),
        "ms_per_episode": round(1000 * wall / n, 2),
        "driver_cpu_ms_per_episode": round(1000 * (time.process_time() - cpu0) / n, 3),
        "machine_busy_cores": round((machine_busy_s() - busy0) / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=60, help="episodes per dataset")
    parser.add_argument("--datasets", type=int, default=8)
    parser.add_argument("--rows", type=int, default=300, help="rows of each episode at 10 Hz")
    parser.add_argument("--committers", default="1,2,4")
    args = parse_args(parser, {"episodes": 2, "datasets": 2, "rows": 20, "committers": "1,2"}, "2 x 2 short episodes")
    import ray

    from jobs.runtime.ray_pool import init_ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from jobs.spec_models import JobSpec, SourceSpec

    quiet = wait_quiet(0.5, 0 if args.smoke else 120)
    tmp = Path(tempfile.mkdtemp(prefix="eidata-commit-"))
    try:
        log(f"staging templates ({args.rows} rows) ...")
        templates = _templates(tmp, args.rows)
        rows = [t.episodes[0].staged.length for t in templates]
        init_ray(None, 2, 256, env={"SVT_LOG": "1"})
        runs, digests = [], {}
        contestants = [("in the driver (old)", 0)]
        contestants += [(f"{n} committer actor(s)", n) for n in (int(x) for x in args.committers.split(","))]
        for name, n in contestants:
            out = tmp / f"out-{n}"
            spec = JobSpec(output=out, sources=[SourceSpec(name="bench", adapter="agibot", root=tmp / "raw/agibot")])
            results = _copies(templates, out, args.datasets, args.episodes)
            log(f"{name}: {len(results)} commits ...")
            runs.append(_run(name, n, results, spec))
            digests[name] = _hash(out)
            log(f"  {json.dumps(runs[-1])}")
            shutil.rmtree(out)
        ray.shutdown()
        if len(set(digests.values())) != 1:
            raise RuntimeError(f"the contestants wrote different bytes: {digests}")
        print(
            json.dumps(
                {
                    "benchmark": "commit",
                    "rows_per_episode": rows,
                    "datasets": args.datasets,
                    "episodes_per_dataset": args.episodes,
                    "identical_output": True,
                    "cpus": os.cpu_count(),
                    **quiet,
                    "runs": runs,
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
