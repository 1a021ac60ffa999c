"""How far a command's slowest phase and a planted hang are from the supervisor's no-progress bound
(`jobs.runtime.progress.working`): a command is run unsupervised under this process (so its tree is what the
supervisor would watch), its work sampled every `STALL_POLL_S` as the supervisor samples it, and for each window of
`--window` seconds the busiest thread's CPU (share of one core), the whole tree's, and the bytes moved are taken.
Printed: the window where the command came nearest a trip (the lowest busiest-thread share, and the bytes there) and
the window furthest from one, and whether any window would have tripped.

    python -m benchmarks.stall_progress --window 4 [--label NAME] [--json FILE] -- COMMAND [ARGS...]
    python -m benchmarks.stall_progress --window 4 --timeout 30 --plant {cond,gil,sleep,ray} N   # a planted hang
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._cli import parse_args
from jobs.runtime import progress, supervisor

_WAKERS = """
import threading, time
def wake():
    ready = threading.Condition()
    with ready:
        while True:
            ready.wait(timeout=0.005)
def nap():
    while True:
        time.sleep(0.005)
def python():
    while True:
        sum(range(1000))
for _ in range({n}):
    threading.Thread(target={target}, daemon=True).start()
"""
_IN_C_LOCK = """
def wait_in_c():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # never released; the interpreter's lock is
wait_in_c()
"""
_HOLDING = """
def wait_in_c():
    time.sleep(0.5)
    import ctypes
    ctypes.PyDLL(None).pause()  # a C call that keeps the interpreter's lock, as Rust's alloc-error handler did
wait_in_c()
"""
_RAY = """
import threading, ray
from jobs.runtime.ray_pool import init_ray
init_ray(None, 2, 256)
@ray.remote
def stuck():
    ready = threading.Condition()
    with ready:
        while True:
            ready.wait(timeout=0.005)
ray.get([stuck.remote() for _ in range({n})])
"""
PLANTS = {  # N threads that wake to wait while the main thread hangs
    "cond": ("wake", _IN_C_LOCK),  # timed condition waits, holding nothing
    "sleep": ("nap", _IN_C_LOCK),  # 5 ms sleeps
    "gil": ("python", _HOLDING),  # threads running Python, then waiting for the interpreter's lock
    "ray": ("", _RAY),  # an embedded Ray as eidata starts it, its driver waiting on N tasks in timed condition waits
}


def wakers(n: int, target: str = "wake") -> str:
    """A script's lines that start `n` threads running `target` (`wake`, `nap`, `python`): waking to wait."""
    return _WAKERS.replace("{n}", str(n)).replace("{target}", target)


def plant(kind: str, n: int) -> str:
    """A script that hangs as `PLANTS[kind]` says, with `n` threads waking beside (ray: `n` tasks)."""
    target, hang = PLANTS[kind]
    return hang.replace("{n}", str(n)) if kind == "ray" else wakers(n, target) + hang


def _name(key: tuple[int, int]) -> str:
    pid, tid = key
    try:
        process = Path(f"/proc/{pid}/comm").read_text().strip()
        thread = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip() if tid else "(ended threads, reaped)"
    except OSError:
        return f"{pid}/{tid}"
    return f"{process}/{thread}"


def measure(command: list[str], window_s: float, timeout_s: float) -> dict:
    """`command` run to its end (or `timeout_s`), its windows summed up."""
    env = {**os.environ, supervisor.OFF_ENV: "1"}
    samples: list[tuple[float, progress.Work]] = []
    names: dict[tuple[int, int], str] = {}
    t0 = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    while proc.poll() is None and time.monotonic() - t0 < timeout_s:
        work = progress.sample(supervisor._descendants())
        samples.append((time.monotonic(), work))
        names.update({key: _name(key) for key in work.cpu if key not in names})
        time.sleep(supervisor.STALL_POLL_S)
    if proc.poll() is None:
        proc.kill()
    status = proc.wait()
    windows = []
    start = 0
    for end in range(1, len(samples)):
        while start + 1 < end and samples[end][0] - samples[start + 1][0] >= window_s:
            start += 1
        (t_old, old), (t_new, new) = samples[start], samples[end]
        span = t_new - t_old
        if span < window_s:
            continue
        used, key = progress.busiest(old, new)
        mover = max(new.moved, key=lambda key: new.moved[key] - old.moved.get(key, 0), default=(0, 0))
        tree = sum(max(cpu - old.cpu.get(k, 0.0), 0.0) for k, cpu in new.cpu.items())
        windows.append(
            {
                "at_s": round(t_new - t0, 1),
                "busiest_share": round(used / span, 4),
                "busiest": names.get(key, str(key)),
                "tree_share": round(tree / span, 4),
                "kib_per_s": round(progress.moved(old, new) / span / 1024, 1),
                "mover": names.get((mover[0], 0), str(mover[0])).split("/")[0] + ("/tcp" if mover[1] else "/device"),
                "starved": progress.starved(old, new, span),
                "working": progress.working(old, new, span),
            }
        )
    if not windows:
        return {"exit": status, "seconds": round(time.monotonic() - t0, 1), "windows": 0}
    return {
        "exit": status,
        "seconds": round(time.monotonic() - t0, 1),
        "windows": len(windows),
        "tripped": sum(not w["working"] for w in windows),
        "nearest": min(windows, key=lambda w: (w["working"], w["busiest_share"])),
        "furthest": max(windows, key=lambda w: w["busiest_share"]),
        "lowest_kib_per_s": min(w["kib_per_s"] for w in windows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=10.0, help="the stall window, seconds")
    parser.add_argument("--timeout", type=float, default=600.0, help="the command is killed after this many seconds")
    parser.add_argument("--label", default="")
    parser.add_argument("--json", type=Path, help="append the result as one JSON line here")
    parser.add_argument("--plant", nargs=2, metavar=("KIND", "N"), help=f"a planted hang: {', '.join(PLANTS)}")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    smoke = {"window": 2.0, "timeout": 30.0, "command": [sys.executable, "-c", "import time; time.sleep(4.5)"]}
    args = parse_args(parser, smoke, "a sleeping command sampled")
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.plant:
        command = [sys.executable, "-c", plant(args.plant[0], int(args.plant[1]))]
    if not command:
        parser.error("no command to run")
    label = args.label or (f"plant {args.plant[0]} {args.plant[1]}" if args.plant else " ".join(command))
    result = {"label": label, "window_s": args.window}
    result.update(measure(command, args.window, args.timeout))
    print(json.dumps(result))
    if args.json:
        with args.json.open("a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
