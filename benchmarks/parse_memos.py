"""What the per-process memos cost now that every parse runs in a process forked for it (review 10 §1.1, "not
measured apart"; issue 100 item 3).

    .venv/bin/python -m benchmarks.parse_memos [--episodes 20] [--smoke]

Per real robomimic-layout HDF5 sample (the demos of one file, each an episode): each episode read by its adapter in a
parse process (`adapters.hostile.sandbox.answer`), alternately with the parent's memos emptied before the fork (each
episode learns the file anew, as before `adapters.hostile.memos`) and as they are now (what the first parse process
learnt, given back). The figure is the parse process's CPU time (`RUSAGE_CHILDREN`: what another session's load does
not inflate), median over `--episodes`; the walk alone (`sealed_h5`, a fresh open each time) beside it. Other memos
measured once, not carried: OXE's `load_builder`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from functools import partial

import h5py

from adapters.arrays.adapter import ArraysAdapter
from adapters.hostile import sealed
from adapters.hostile.sandbox import answer
from adapters.oxe.builder import load_builder
from adapters.storage.root import Root
from benchmarks._cli import parse_args
from benchmarks._machine import log
from tests.realdata import realdata

SAMPLES = {  # folder/file -> the arrays adapter's options, as its tests read them
    "isaaclab_indy7_reach/dataset.hdf5": {"fps": 50},
    "isaaclab_stack_mimic/generated_dataset_small.hdf5": {},
    "robosuite_raw_lift/1729277108_0358148/demo.hdf5": {},
}
BUILDER = "octo_bridge_debug_rlds/bridge_dataset/1.0.0"


def _child_cpu_ms(fn: Callable[[], object]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3


def _walk_ms(path: str, times: int) -> float:
    cpu = []
    for _ in range(times):
        with h5py.File(path, "r") as f:  # a fresh open, as each parse process makes
            sealed._checked.clear()
            t = time.process_time()
            sealed.sealed_h5(f, path)
            cpu.append((time.process_time() - t) * 1e3)
    sealed._checked.clear()
    return statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=20)
    args = parse_args(parser, {"episodes": 2}, "two episodes of each sample")
    rows = []
    for name, options in SAMPLES.items():
        if (path := realdata(name)) is None:
            log(f"{name}: absent, skipped")
            continue
        adapter = ArraysAdapter(options)
        refs = list(adapter.discover(path.parent))[: args.episodes]
        with h5py.File(path, "r") as f:
            objects = sum(1 for _ in sealed.h5_objects(f.id, str(path)))
        answer(adapter.read, refs[0], mib=640, what=name)  # the modules the parse imports, imported here once
        forgotten, carried = [], []
        for ref in refs:  # alternated, so a change in the machine's load falls on both alike
            sealed._checked.clear()  # the parent forgets: this parse process learns the file anew (and gives it back)
            parse = partial(answer, adapter.read, ref, mib=640, what=name)
            forgotten.append(_child_cpu_ms(parse))
            carried.append(_child_cpu_ms(parse))
        row = {
            "sample": name,
            "demos": len(refs),
            "objects": objects,
            "walk_ms": round(_walk_ms(str(path), 10), 2),
            "episode_cpu_ms_forgotten": round(statistics.median(forgotten), 1),
            "episode_cpu_ms_carried": round(statistics.median(carried), 1),
        }
        log(
            f"{name}: {objects:,} objects, the walk {row['walk_ms']} ms; an episode's parse process "
            f"{row['episode_cpu_ms_forgotten']} ms of CPU learning the file anew, {row['episode_cpu_ms_carried']} ms "
            "with it given back"
        )
        rows.append(row)
    if (builder := realdata(BUILDER)) is not None:
        where, cold = Root(str(builder)).location(""), []
        for _ in range(20):
            load_builder.cache_clear()
            t = time.process_time()
            load_builder(where)
            cold.append((time.process_time() - t) * 1e3)
        rows.append({"sample": BUILDER, "load_builder_ms": round(statistics.median(cold), 3)})
        log(f"{BUILDER}: load_builder {rows[-1]['load_builder_ms']} ms a parse process (not carried)")
    print(json.dumps({"samples": rows}))  # one JSON object, as every benchmark's last line (tests/benchmarks)


if __name__ == "__main__":
    main()
