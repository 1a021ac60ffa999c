"""The parse process's default memory limit against every real sample an adapter reads: false trips (issue 84 item 1).

    .venv/bin/python -m benchmarks.parse_limit_real                       # the machine's mechanism
    .venv/bin/python -m benchmarks.parse_limit_real --mechanism RLIMIT_AS  # as a machine without a writable cgroup
    .venv/bin/python -m benchmarks.parse_limit_real --smoke                # one episode of two samples

Each sample is discovered and its episodes run through every ingest step, the write included, exactly as a job's
worker runs them (`discover_source`, `process_episode`: each parse in its own process under
`parallelism.task_memory_mib`, default `adapters.hostile.limits.DEFAULT_MIB`). Per sample: the episodes, how many the
limit killed or refused (a false trip: every sample is honest data), and under a cgroup the largest peak of a parse
process. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from adapters.hostile import limits
from benchmarks._cli import parse_args
from benchmarks._machine import log
from jobs.ingest.discovery import discover_source, read_work
from jobs.ingest.task import EpisodeTask, Rejected, TaskSettings
from jobs.ingest.worker import MEMORY_LIMIT, PARSE_DIED, process_episode
from jobs.spec_models import JobSpec
from tests.realdata import realdata

# sample folder -> (adapter, options), as the adapters' tests read them
SAMPLES: dict[str, tuple[str, dict]] = {
    "gr00t_robot_sim_picknplace": ("lerobot", {}),
    "unitree_g1_policy_train": ("lerobot", {}),
    "lerobot_so101_record_test": ("lerobot", {}),
    "octo_bridge_debug_rlds": ("oxe", {}),
    "agibot_proprio_stats_real": ("agibot", {}),
    "isaaclab_indy7_reach": ("arrays", {"fps": 50}),
    "isaaclab_stack_mimic": ("arrays", {}),
    "isaaclab_stack_teleop": ("arrays", {}),
    "robosuite_raw_lift": ("arrays", {}),
    "diffusion_policy_pusht_zarr": ("arrays", {}),
    "diffusion_policy_pusht_151": ("arrays", {}),
    "rosbag_ats": ("rosbag", {}),
    "rosbag_interbotix": ("rosbag", {}),
    "rosbag_pr2": ("rosbag", {}),
    "rosbag_franka_larics": ("rosbag", {}),
    "rosbag_kuavo": ("rosbag", {}),
    "egodex_egodexrobotics": ("egodex", {}),
    "vitra_ego4d_example": ("vitra", {}),
    "hot3d_data_sample": ("hot3d", {}),
}


PEAKS: list[float] = []  # each parse's peak under a cgroup, MiB, read as its cage closes (`_closed`)


def _closed(cage: limits.Cage, close: Callable[[limits.Cage], None] = limits.Cage.close) -> None:
    if (peak := cage.peak_mib()) is not None:
        PEAKS.append(peak)
    close(cage)


def measure(name: str, adapter: str, options: dict, episodes: int, out: Path) -> dict[str, object]:
    spec = JobSpec.model_validate(
        {
            "output": str(out),
            "sources": [{"name": name, "adapter": adapter, "root": str(realdata(name)), "options": options}],
        }
    )
    source = spec.sources[0]
    work = out / "job/work" / f"{name}.parquet"
    before = len(PEAKS)
    res = discover_source(source, str(out), str(work), None, spec.parallelism.task_memory_mib)
    items = [i for i in (read_work(source, work) if res["todo"] else []) if i.ref.error is None][:episodes]
    trips, outcomes = [], {}
    for item in items:
        r = process_episode(EpisodeTask(item, TaskSettings.of(spec, spec.output)))
        kind = type(r).__name__ if not isinstance(r, Rejected) else r.error_class
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if isinstance(r, Rejected) and r.error_class in (MEMORY_LIMIT, PARSE_DIED):
            trips.append(r.message)
    peaks = PEAKS[before:]
    return {
        "sample": name,
        "discovery": res["error"] and res["error"]["message"],
        "episodes": len(items),
        "outcomes": outcomes,
        "trips": trips,
        "peak_mib": round(max(peaks), 1) if peaks else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--episodes", type=int, default=8, help="episodes a sample at most")
    p.add_argument("--mechanism", choices=["machine", "RLIMIT_AS"], default="machine")
    p.add_argument("--samples", type=int, default=len(SAMPLES), help="the first N samples")
    args = parse_args(p, {"episodes": 1, "samples": 1}, "one episode of one sample")
    limits.Cage.close = _closed  # type: ignore[method-assign]  # when run, never on import
    if args.mechanism == "RLIMIT_AS":
        limits.home = lambda: limits.Home()  # as a machine that offers no cgroup
    samples, episodes = list(SAMPLES.items())[: args.samples], args.episodes
    rows = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="eidata-parse-limit-") as tmp:
        for name, (adapter, options) in samples:
            row = measure(name, adapter, options, episodes, Path(tmp) / name)
            log(f"{name}: {row}")
            rows.append(row)
    total = sum(int(r["episodes"]) for r in rows)
    trips = sum(len(r["trips"]) for r in rows)  # type: ignore[arg-type]
    summary = {
        "mechanism": limits.mechanism(),
        "limit_mib": limits.DEFAULT_MIB,
        "samples": len(rows),
        "episodes": total,
        "false_trips": trips,
        "largest_peak_mib": max((r["peak_mib"] for r in rows if r["peak_mib"] is not None), default=None),
        "seconds": round(time.monotonic() - t0, 1),
        "rows": rows,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
