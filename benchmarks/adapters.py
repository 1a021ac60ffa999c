"""Adapter figures: AgiBot discovery over 10k episodes, read throughput per adapter, AgiBot memory vs episode length.

    .venv/bin/python -m benchmarks.adapters [--discover-episodes 10000] [--long-frames 300 1800]
    .venv/bin/python -m benchmarks.adapters --smoke     # tiny corpora and trees: runs, measures nothing

Each read measurement runs in its own process (peak RSS is that process's). "frames/s" counts decoded camera frames
(every camera of every episode, iterated to the end), plus the time to read every state/action stream. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

os.environ.setdefault("SVT_LOG", "1")

import numpy as np

from adapters.synthetic.agibot import EpisodeSpec, write_agibot
from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log, peak_rss_mb


# -- discovery ------------------------------------------------------------------------------------------------------
def mock_agibot_tree(root: Path, episodes: int, tasks: int = 10) -> None:
    """The AgiBot layout with empty files: discovery must list them without opening any."""
    per_task = episodes // tasks
    for t in range(tasks):
        task_id = 300 + t
        entries = []
        for k in range(per_task):
            eid = 600_000 + t * per_task + k
            entries.append(
                {
                    "episode_id": eid,
                    "task_name": f"task {task_id}",
                    "init_scene_text": "a table",
                    "label_info": {
                        "action_config": [{"start_frame": 0, "end_frame": 30, "action_text": "reach", "skill": "Reach"}]
                    },
                }
            )
            (root / f"proprio_stats/{task_id}/{eid}").mkdir(parents=True)
            (root / f"proprio_stats/{task_id}/{eid}/proprio_stats.h5").touch()
            videos = root / f"observations/{task_id}/{eid}/videos"
            videos.mkdir(parents=True)
            for cam in ("head", "hand_left", "hand_right"):
                (videos / f"{cam}_color.mp4").touch()
        (root / "task_info").mkdir(exist_ok=True)
        (root / f"task_info/task_{task_id}.json").write_text(json.dumps(entries))


def bench_discovery(episodes: int) -> dict[str, Any]:
    import adapters

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        mock_agibot_tree(root, episodes)
        build_s = time.perf_counter() - t0
        adapter = adapters.get_adapter("agibot")
        forbid = mock.Mock(side_effect=AssertionError("discovery opened a file it must only list"))
        with mock.patch("av.open", forbid), mock.patch("h5py.File", forbid):
            t0 = time.perf_counter()
            refs = list(adapter.discover(root))
            elapsed = time.perf_counter() - t0
    bad = [r for r in refs if r.error]
    if len(refs) != episodes or bad:
        raise SystemExit(f"discovery found {len(refs)} episodes ({len(bad)} with errors), expected {episodes}")
    log(f"[discover] {episodes} AgiBot episodes (tree built in {build_s:.1f} s) discovered in {elapsed:.2f} s")
    return {"episodes": episodes, "seconds": round(elapsed, 3), "episodes_per_s": round(episodes / elapsed)}


# -- corpora for read throughput ------------------------------------------------------------------------------------
def write_corpora(base: Path, size: tuple[int, int], frames: int = 150) -> dict[str, tuple[str, Path]]:
    """adapter name -> (adapter, root) of a small corpus per source, `frames` per episode (150: the recorded size;
    Bridge episodes and Ego4D videos scale with it)."""
    from adapters.synthetic.ego4d import write_ego4d
    from adapters.synthetic.egodex import write_egodex
    from adapters.synthetic.rlds import write_rlds

    h, w = size
    out: dict[str, tuple[str, Path]] = {}
    steps = max(frames * 40 // 150, 4)
    write_rlds(base / "oxe", "bridge", episodes=12, steps=steps, vary_steps=False, image_size=(h, w))
    out["oxe"] = ("oxe", next((base / "oxe").rglob("dataset_info.json")).parent)
    specs = [EpisodeSpec(327, 700_000 + k, frames) for k in range(4)]
    write_agibot(base / "agibot", specs, height=h, width=w)
    out["agibot"] = ("agibot", base / "agibot")
    seconds = max(20.0 * frames / 150, 2.0)
    write_ego4d(base / "ego4d", num_videos=2, duration_s=seconds, narrations_per_video=6, height=h, width=w)
    out["ego4d"] = ("ego4d", base / "ego4d")
    write_egodex(base / "egodex", episodes_per_task=2, num_frames=frames, height=h, width=w, old_episode=False)
    out["egodex"] = ("egodex", base / "egodex")
    out["lerobot"] = ("lerobot", write_lerobot_v21(base / "lerobot", 4, frames, size))
    out |= write_egocentric_corpora(base, size, frames)
    out["robomind"] = ("robomind", write_robomind_corpus(base / "robomind", size, frames))
    return out


def write_robomind_corpus(root: Path, size: tuple[int, int], frames: int) -> Path:
    """RoboMIND: 2 Franka 3RGB, 1 UR5e and 1 AgileX episode of `frames` (10 cameras in all, JPEGs inside the HDF5)."""
    from adapters.synthetic.robomind import EpisodeSpec, write_robomind

    specs = [EpisodeSpec("franka_3rgb", "bread_in_basket", f"1014_14460{k}", frames) for k in range(2)]
    specs += [
        EpisodeSpec("ur_1rgb", "open_drawer", "1014_150000", frames),
        EpisodeSpec("agilex_3rgb", "10_packplate", "2024_09_18-10_40_22", frames),
    ]
    write_robomind(root, specs, size=size)
    return root


def robomind_floor(root: Path) -> dict[str, Any]:
    """The floor under RoboMIND's read: every camera's JPEG bytes already in memory, decoded by cv2 and nothing else."""
    import cv2
    import h5py

    blobs = []
    for path in sorted(root.rglob("*.hdf5")):
        with h5py.File(path, "r") as f:
            blobs += [b for cam in f["observations/rgb_images"].values() for b in cam[()]]
    t0 = time.perf_counter()
    for b in blobs:
        cv2.imdecode(b, cv2.IMREAD_COLOR)
    elapsed = time.perf_counter() - t0
    return {"frames": len(blobs), "seconds": round(elapsed, 3), "frames_per_s": round(len(blobs) / elapsed, 1)}


def write_egocentric_corpora(base: Path, size: tuple[int, int], frames: int) -> dict[str, tuple[str, Path]]:
    """EPIC-KITCHENS-100 (5 videos at 59.94/50/29.97/47.95/90 fps, 2 segments each, windows cut from long mp4s),
    Egocentric-10K-style WebDataset shards (2 shards x 3 clips, each mp4 demuxed from inside its tar), `frames` per
    clip at 30 fps (EPIC: the same seconds), and 2 HOT3D sequences of `frames` (UmeTrack hands skinned in `read`; the
    Aria one with its RGB recording, decoded by projectaria_tools)."""
    from adapters.synthetic.egovideo import write_ego_shards
    from adapters.synthetic.epic_kitchens import write_epic_kitchens
    from adapters.synthetic.hot3d import write_hot3d

    h, w = size
    seconds = max(frames / 30, 1.0)
    write_epic_kitchens(base / "epic", duration_s=2 * seconds, segments_per_video=2, height=h, width=w)
    write_ego_shards(base / "ego_video", workers=2, clips_per_shard=3, seconds=seconds, height=h, width=w)
    write_hot3d(base / "hot3d", frames=frames, video=True)  # Aria: recording.vrs (352x352 JPEG); Quest 3: GT only
    return {
        "epic_kitchens": ("epic_kitchens", base / "epic"),
        "ego_video": ("ego_video", base / "ego_video"),
        "hot3d": ("hot3d", base / "hot3d"),
    }


def write_lerobot_v21(root: Path, episodes: int, frames: int, size: tuple[int, int]) -> Path:
    from adapters.synthetic.video import synthetic_frame
    from ingest.lerobot.writer import LeRobotWriter
    from schemas.robots.registry import default_registry

    feats = default_registry().get("franka").features({"head": size})
    rng = np.random.default_rng(0)
    with LeRobotWriter.create(root, fps=10, features=feats, robot_type="franka") as w:
        for e in range(episodes):
            with w.episode(task=f"task {e}", expected_frames=frames) as ep:
                for i in range(frames):
                    ep.add_frame(
                        {
                            "observation.images.head": synthetic_frame(*size, i, e),
                            "observation.state": rng.normal(size=50).astype(np.float32),
                            "action": rng.normal(size=50).astype(np.float32),
                            "observation.hand_keypoints": np.zeros((2, 21, 3), np.float32),
                        }
                    )
    return root


# -- child: read everything -----------------------------------------------------------------------------------------
def child_read(adapter_name: str, root: Path) -> dict[str, Any]:
    import adapters

    base_rss = peak_rss_mb()
    adapter = adapters.get_adapter(adapter_name)
    t0 = time.perf_counter()
    refs = [r for r in adapter.discover(root) if r.error is None]
    frames = steps = 0
    for ref in refs:
        ep = adapter.read(ref)
        steps += sum(len(s) for s in (*ep.states.values(), *ep.actions.values()))
        for cam in ep.cameras.values():
            for _, img in cam.frames():
                frames += 1
                assert img.dtype == np.uint8 and img.ndim == 3
    elapsed = time.perf_counter() - t0
    peak = peak_rss_mb()
    return {
        "adapter": adapter_name,
        "episodes": len(refs),
        "frames": frames,
        "stream_rows": steps,
        "seconds": round(elapsed, 3),
        "frames_per_s": round(frames / elapsed, 1),
        "base_rss_mb": round(base_rss),
        "peak_rss_mb": round(peak),
    }


IN_PROCESS = False  # --smoke: read in this process (no figure is kept; a child per corpus is most of its time)


def run_child(adapter_name: str, root: Path) -> dict[str, Any]:
    """The read in a child of its own, so that its peak RSS is the adapter's alone."""
    if IN_PROCESS:
        return child_read(adapter_name, root)
    cmd = [sys.executable, "-m", __spec__.name, "--child", adapter_name, "--root", str(root)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {adapter_name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agibot_memory(base: Path, lengths: list[int]) -> dict[str, Any]:
    """One AgiBot episode, 3 cameras at 480x640, read and decoded in full, for each length."""
    out = {}
    for n in lengths:
        root = base / f"agibot_long_{n}"
        t0 = time.perf_counter()
        write_agibot(root, [EpisodeSpec(98, 900_000 + n, n)], height=480, width=640, parameters=False)
        log(f"[agibot-long] wrote 3 x {n} frames at 480x640 in {time.perf_counter() - t0:.1f} s")
        res = run_child("agibot", root)
        log(f"[agibot-long] {n} frames x 3 cameras: peak RSS {res['peak_rss_mb']} MB, {res['frames_per_s']} frames/s")
        out[str(n)] = res
    return out


def print_reads(reads: dict[str, dict[str, Any]]) -> None:
    head = ("adapter", "episodes", "frames", "frames/s", "rows", "s", "peak RSS MB")
    print("\n{:14s} {:>8s} {:>7s} {:>9s} {:>7s} {:>7s} {:>11s}".format(*head))
    for name, r in reads.items():
        print(
            f"{name:14s} {r['episodes']:8d} {r['frames']:7d} {r['frames_per_s']:9.1f} {r['stream_rows']:7d} "
            f"{r['seconds']:7.2f} {r['peak_rss_mb']:11d}"
        )


def bench_only(names: list[str], size: tuple[int, int], frames: int) -> None:
    """Read throughput of the named corpora alone (same corpora and child processes as the full run)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpora = write_corpora(Path(tmp), size, frames)
        unknown = sorted(set(names) - set(corpora))
        if unknown:
            raise SystemExit(f"no corpus {unknown}; known: {sorted(corpora)}")
        reads = {n: run_child(*corpora[n]) for n in names}
        floor = robomind_floor(corpora["robomind"][1]) if "robomind" in names else None
    print_reads(reads)
    if floor is not None:
        print(f"robomind floor (cv2.imdecode of the same JPEGs, in memory): {floor['frames_per_s']} frames/s")
    print(
        json.dumps(
            {
                "read_frames_per_s": {k: r["frames_per_s"] for k, r in reads.items()},
                "read_peak_rss_mb": {k: r["peak_rss_mb"] for k, r in reads.items()},
                "size": list(size),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--discover-episodes", type=int, default=10_000)
    p.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    p.add_argument("--long-frames", type=int, nargs="+", default=[300, 1800])
    p.add_argument("--frames", type=int, default=150, help="frames per episode of the read corpora")
    p.add_argument("--only", nargs="+", metavar="ADAPTER", help="read these corpora only (no discovery/memory runs)")
    p.add_argument("--child")
    p.add_argument("--root", type=Path)
    smoke = {"discover_episodes": 100, "size": (32, 32), "frames": 10, "long_frames": [10]}
    args = parse_args(p, smoke, "100 episodes to discover, corpora of 10-frame 32x32 episodes")
    global IN_PROCESS
    IN_PROCESS = args.smoke
    if args.child:
        print(json.dumps(child_read(args.child, args.root)))
        return

    if args.only:
        bench_only(args.only, tuple(args.size), args.frames)
        return
    discovery = bench_discovery(args.discover_episodes)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        corpora = write_corpora(base, tuple(args.size), args.frames)
        log(f"[corpora] written in {time.perf_counter() - t0:.1f} s")
        reads = {}
        for name, (adapter_name, root) in corpora.items():
            reads[name] = run_child(adapter_name, root)
            r = reads[name]
            log(
                f"[read] {name:8s} {r['episodes']:3d} episodes {r['frames']:6d} frames {r['seconds']:6.2f} s "
                f"{r['frames_per_s']:8.1f} frames/s  peak RSS {r['peak_rss_mb']} MB"
            )
        memory = agibot_memory(base, args.long_frames)

    print_reads(reads)
    print(f"AgiBot discovery: {discovery['episodes']} episodes in {discovery['seconds']} s")
    for n, r in memory.items():
        print(f"AgiBot one episode, 3 cameras 480x640, {n} frames: peak RSS {r['peak_rss_mb']} MB")
    peak_long = max(r["peak_rss_mb"] for r in memory.values())
    print(
        json.dumps(
            {
                "discover_episodes": discovery["episodes"],
                "discover_s": discovery["seconds"],
                "discover_episodes_per_s": discovery["episodes_per_s"],
                "read_frames_per_s": {k: r["frames_per_s"] for k, r in reads.items()},
                "read_peak_rss_mb": {k: r["peak_rss_mb"] for k, r in reads.items()},
                "agibot_long_peak_rss_mb": {k: r["peak_rss_mb"] for k, r in memory.items()},
                "agibot_long_under_1gib": peak_long < 1024,
                "size": list(args.size),
            }
        )
    )


if __name__ == "__main__":
    main()
