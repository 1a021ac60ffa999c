"""`adapters.hostile.memory_limit`: the limit holds whatever the process freed before the task (issue 58 item 1).

The limit counts resident memory (issue 75), and allocators kept freed memory for the next task: glibc's heap once its
dynamic mmap threshold had risen, pyarrow's mimalloc arena (1 GiB, mapped at its first buffer). Each check builds that
history in a fresh interpreter (this one's history is the suite's), then inflates past the limit: refused, each task
taking at most its limit; and the environment Ray workers start with settles them from their first allocation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapters.hostile.memory_limit import MIB, SLACK, task_memory

REPO = Path(__file__).resolve().parents[3]
LIMIT_MIB = 128


def test_pyarrow_allocates_through_glibc_and_what_glibc_held_free_is_not_resident_at_the_start() -> None:
    """What glibc holds free when a task starts is given back (`malloc_trim`): reused by the task, it is resident
    again and counts as the task's use."""
    import pyarrow as pa

    from adapters.hostile.memory_use import statm

    with task_memory(LIMIT_MIB):  # a process's first task settles its allocators
        pass
    assert pa.default_memory_pool().backend_name == "system"  # mimalloc's 1 GiB arena is mapped memory reused unseen
    held = [bytes(64 << 10) + bytes([k % 256]) for k in range(512)]  # 32 MiB under the mmap threshold
    pin = bytes(64 << 10) + b"x"
    before = statm()
    del held[:-1]
    with task_memory(LIMIT_MIB) as limit:
        assert limit is not None and before is not None
        assert limit.used <= before[1] - (24 << 20)  # the 32 MiB freed is no longer resident
    assert pin


FROM_START = """
import ctypes
import numpy as np, pyarrow as pa
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks".split()]
    _fields_ += [("fordblks", ctypes.c_size_t)]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
np.ones(16 << 20, np.uint8)
held = [np.ones(1 << 20, np.uint8) for _ in range(200)]
pin = np.ones(8 << 20, np.uint8)
del held
print(pa.default_memory_pool().backend_name, libc.mallinfo2().fordblks >> 20)
"""


def test_the_allocator_env_settles_a_worker_from_its_start() -> None:
    """`allocator_env`, which Ray workers get from their start (`jobs.ingest.job.init_job_ray`), in a process that
    never imports eidata: pyarrow allocates through glibc and 200 MiB of freed 1 MiB arrays are not kept in glibc's
    heap (without it: mimalloc, and the 200 MiB kept); an operator's own glibc tunables are kept."""
    from adapters.hostile.memory_limit import HUGE_PAGES, allocator_env

    settled = allocator_env({})
    clean = {k: v for k, v in os.environ.items() if k not in settled and k != "PYTHONPATH"}
    assert allocator_env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})["GLIBC_TUNABLES"] == (
        "glibc.malloc.arena_max=2:" + HUGE_PAGES
    )
    held = {}
    for name, env in (("settled", {**clean, **settled}), ("bare", clean)):
        done = subprocess.run([sys.executable, "-c", FROM_START], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        pool, free_mib = done.stdout.split()
        held[name] = (pool, int(free_mib))
    assert held["settled"][0] == "system" and held["settled"][1] < 8, held
    assert held["bare"][0] != "system" and held["bare"][1] >= 190, held  # what the env changes


REUSED = """
import os, sys
import h5py, numpy as np, pyarrow as pa, pyarrow.parquet as pq, zarr
from adapters.hostile.memory_limit import MIB, task_memory

def hwm():
    return next(int(ln.split()[1]) * 1024 for ln in open("/proc/self/status") if ln.startswith("VmHWM"))

tmp = sys.argv[1]
bomb = 384 * MIB
# a parquet column of zeros that inflates to 384 MiB (a few KiB on disk), and a Zarr array of as much, no chunk
# written (read as its fill value): each written outside any task
pq.write_table(pa.table({"x": np.zeros(bomb // 8)}), tmp + "/zeros.parquet")
zarr.create_array(tmp + "/zeros.zarr", shape=(bomb,), chunks=(1 << 20,), dtype="u1", fill_value=0)
with h5py.File(tmp + "/zeros.h5", "w") as f:
    f.create_dataset("x", shape=(bomb,), chunks=(1 << 20,), dtype="u1", compression="gzip")
with task_memory(128):  # a worker's first task
    pass
# the history of a long-lived worker: a 16 MiB temporary freed (glibc raises its mmap threshold to it), then 400 MiB
# of 1 MiB numpy arrays freed behind one block still live
np.ones(16 * MIB, np.uint8)
held = [np.ones(MIB, np.uint8) for _ in range(400)]
pin = np.ones(8 * MIB, np.uint8)
del held
print("history", hwm())
reads = {
    "h5": lambda: h5py.File(tmp + "/zeros.h5")["x"][:],
    "zarr": lambda: zarr.open_array(tmp + "/zeros.zarr", mode="r")[:],
    "parquet": lambda: pq.read_table(tmp + "/zeros.parquet"),
}
for name, read in reads.items():
    with task_memory(128) as limit:
        try:
            got = read()
        except MemoryError as e:  # ArrowMemoryError is one
            print(name, "refused", limit.reached(e), limit.taken() // MIB)
        else:
            print(name, "inflated", got.nbytes // MIB, limit.taken() // MIB)
            del got
"""


def test_memory_an_earlier_task_freed_is_not_reused_past_the_limit(tmp_path: Path) -> None:
    """The limit counts mapped memory: in a process that had freed 400 MiB of 1 MiB arrays, an HDF5 dataset and a
    Zarr array read whole (384 MiB each) were allocated under a 128 MiB limit in the heap glibc kept, and pyarrow's
    read of a parquet column inflating to 384 MiB was never seen (its mimalloc maps a 1 GiB arena at its first
    buffer): all three inflated. Each is refused, taking at most its limit above what the process held."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "ARROW_DEFAULT_MEMORY_POOL"):
        env.pop(key, None)  # the module settles the allocators itself, whatever the process was started with
    done = subprocess.run(
        [sys.executable, "-c", REUSED, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(ln.split(" ", 1) for ln in done.stdout.strip().splitlines())
    for name in ("h5", "zarr", "parquet"):
        verdict, reached, taken = lines[name].split()
        assert (verdict, reached) == ("refused", "True"), lines
        assert int(taken) <= LIMIT_MIB + SLACK // MIB, lines  # the cap follows use: one sample's lag


HOLES = """
import threading
from adapters.hostile.memory_limit import MIB, task_memory

with task_memory(128):  # a worker's first task settles its allocators
    pass
# a long-lived worker's history: 600 MiB of 64 KiB blocks (under the mmap threshold: in the heap) freed but for one
# in 16, so the free memory is holes the heap cannot give back
blocks = [bytearray(64 * 1024) for _ in range(9600)]
pins = blocks[::16]
del blocks
with task_memory(128):
    t = threading.Thread(target=lambda: None)
    t.start()  # its stack is a new mapping
    t.join()
    print("thread started", flush=True)
    extra = bytearray(32 * MIB)  # a new mapping within the limit
    print("mapped", len(extra) // MIB, flush=True)
"""


def test_holes_past_the_limit_never_put_it_below_the_mapping() -> None:
    """With more memory free in heap holes than the task's limit, `base + mib` fell below what the process had mapped:
    every new map was refused, a thread's stack too, and Thread.start waited forever for a thread that never ran (the
    ingest step's deadline watchdog hung a test process). The limit is never below the mapping plus a floor."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", HOLES], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["thread", "started", "mapped", "32"]
