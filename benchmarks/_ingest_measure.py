"""What the ingest benchmark measures in a run: a sampler of the process tree's memory and CPU (/proc), the output
datasets' sizes, and the timeline of the tasks.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._machine import CLOCK_TICK, status_kb


class TreeSampler(threading.Thread):
    """Every `interval` s: VmRSS, VmHWM and CPU ticks of every descendant of this process, by pid."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval, self.root = interval, os.getpid()
        self.procs: dict[int, dict[str, Any]] = {}
        self.max_tree_rss_kb = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def descendants(self) -> list[int]:
        children: dict[int, list[int]] = defaultdict(list)
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                except OSError:
                    continue
                children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(d))
        out, todo = [], list(children[self.root])
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children[pid]
        return out

    def sample(self) -> None:
        with self._lock:
            tree = 0
            for pid in self.descendants():
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    mem = status_kb(pid, "VmRSS", "VmHWM")
                    if pid not in self.procs:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                        cpus = sorted(os.sched_getaffinity(pid))
                        self.procs[pid] = {"kind": _kind(cmd), "rss_kb": 0, "hwm_kb": 0, "cpu_s": 0.0, "cpus": cpus}
                except OSError:
                    continue
                p = self.procs[pid]
                p["rss_kb"] = max(p["rss_kb"], mem.get("VmRSS", 0))
                p["hwm_kb"] = max(p["hwm_kb"], mem.get("VmHWM", 0))
                p["cpu_s"] = (int(fields[11]) + int(fields[12])) / CLOCK_TICK
                tree += mem.get("VmRSS", 0)
            self.max_tree_rss_kb = max(self.max_tree_rss_kb, tree)

    def cpu_s(self) -> float:
        with self._lock:
            return sum(p["cpu_s"] for p in self.procs.values())

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _kind(cmd: str) -> str:
    if cmd.startswith("ray::") or "default_worker.py" in cmd:
        return "worker"
    parts = cmd.split()
    script = next((Path(p).name for p in parts if p.endswith(".py")), None)
    return script or (Path(parts[0]).name if parts else "?")


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def dataset_sizes(output: Path) -> list[dict[str, Any]]:
    """Per output dataset: rows, camera frames (rows x video features), video and parquet bytes."""
    out = []
    for info_path in sorted(output.glob("datasets/*/*/meta/info.json")):
        root = info_path.parent.parent
        info = json.loads(info_path.read_text())
        videos = {k: f["shape"][:2] for k, f in info["features"].items() if f["dtype"] == "video"}
        rows = info["total_frames"]
        video_bytes = sum(p.stat().st_size for p in root.glob("videos/**/*.mp4"))
        data_bytes = sum(p.stat().st_size for p in root.glob("data/**/*.parquet"))
        out.append(
            {
                "dataset": str(root.relative_to(output / "datasets")),
                "episodes": info["total_episodes"],
                "rows": rows,
                "cameras": videos,
                "camera_frames": rows * len(videos),
                "video_bytes": video_bytes,
                "parquet_bytes": data_bytes,
                "video_bytes_per_camera_frame": round(video_bytes / max(rows * len(videos), 1)),
                "parquet_bytes_per_row": round(data_bytes / max(rows, 1)),
            }
        )
    return out


def timeline(results: list[tuple[float, float, int, int]], start: float, end: float) -> dict[str, Any]:
    """When the workers were busy: from the job's start, the first task's start; to the job's end, the last task's
    end; the sum of task times (worker busy seconds); each worker's RSS (MB) after each of its tasks, in order."""
    if not results:
        return {}
    first, last = min(r[0] for r in results), max(r[1] for r in results)
    busy = sum(r[1] - r[0] for r in results)
    rss: dict[int, list[int]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r[1]):
        rss[r[2]].append(r[3])
    return {
        "first_task_start_s": first - start,
        "last_task_end_s": last - start,
        "tail_s": end - last,
        "task_busy_s": busy,
        "tasks": len(results),
        "rss_mb_after_each_task": list(rss.values()),
    }
