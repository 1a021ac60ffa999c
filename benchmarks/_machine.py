"""What the benchmarks read from the machine (Linux /proc): busy cores, a quiet-machine wait, process memory.

The machine is shared, so a figure counts only when the cores that other processes used during it are about 0.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all but idle and iowait) since boot."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLOCK_TICK


def status_kb(pid: int | str, *keys: str) -> dict[str, int]:
    """Fields of /proc/PID/status in kB (VmRSS, VmHWM, ...); empty once the process is gone."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k = line.split(":", 1)[0]
            if k in keys:
                out[k] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def peak_rss_mb() -> float:
    """This process image's high-water RSS (VmHWM). ru_maxrss would carry the parent's peak across fork + exec."""
    return status_kb("self", "VmHWM").get("VmHWM", 0) / 1024


def rss_mb() -> float:
    return status_kb("self", "VmRSS").get("VmRSS", 0) / 1024


def wait_quiet(max_cores: float, max_wait_s: float) -> dict[str, float]:
    """Wait (at most `max_wait_s`) until other processes use under `max_cores` cores over a 3 s window. Nothing of
    ours runs while we wait, so the busy cores measured are other sessions'. `max_wait_s` <= 0: no wait at all."""
    if max_wait_s <= 0:
        return {"busy_cores_before": -1.0, "loadavg_1m_before": os.getloadavg()[0], "waited_s": 0}
    t0 = time.perf_counter()
    while True:
        b0 = machine_busy_s()
        time.sleep(3)
        busy = (machine_busy_s() - b0) / 3
        waited = time.perf_counter() - t0
        if busy < max_cores or waited >= max_wait_s:
            if busy >= max_cores:
                log(f"  WARNING: machine still busy ({busy:.2f} cores) after {waited:.0f} s; measuring anyway")
            return {
                "busy_cores_before": round(busy, 2),
                "loadavg_1m_before": os.getloadavg()[0],
                "waited_s": round(waited),
            }
