"""Run the real lerobot 0.3.3 as a test oracle: `python tests/oracle/lerobot_oracle.py <command> <args...>`.

Must run in its own process with `PYTHONPATH=tests/oracle/shim` (a torchvision stand-in, docker/README.md)
and `HF_HUB_OFFLINE=1`; never import this module from the pytest process. lerobot's video decoding (torchcodec, or
torchvision's `VideoReader`) cannot work on this machine, so `decode_video_frames` is replaced by a seeking PyAV
decoder with the same contract. Every command prints one JSON object on the last stdout line.

Commands:
  probe                              lerobot imports; prints its version and CODEBASE_VERSION
  load ROOT [--items I,J] [--dump P] totals, lengths, features, stats keys, timestamp checks, item values, frames
       [--stats] [--delta-items I,J] ...plus what `stats` / `load-delta` return, in the same process
  load-delta ROOT --items I,J [--steps 16]   16-step action chunks and `action_is_pad`
  write ROOT --spec S.json --frames F.npz    write a dataset with lerobot's own writer
  stats ROOT                         lerobot's `compute_episode_stats` over each episode's parquet data (non-video)
  normalize ROOT [MORE...] --items I,J   what every 0.3.3 policy does first with a batch: `dataset_to_policy_features`
       of the dataset's features, then its `Normalize` (ACT's norm map: MEAN_STD for VISUAL, STATE and ACTION) built
       from `meta.stats` and applied to the collated items; per dataset: the keys taken as STATE / ACTION and either
       the normalized tensors' dtypes or the error. `lerobot/policies/normalize.py` is loaded by its path: the
       `lerobot.policies` package imports draccus, which this venv lacks (0.3.3 is installed without its deps)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SVT_LOG", "1")

import av
import numpy as np
import torch

REPO_ID = "local/x"
DECODED = {"calls": 0, "frames": 0}  # work done by the decoder, to show that it seeks
SYNC_CALLS: list[bool] = []  # results of lerobot's own check_timestamps_sync calls


# -- decoding -------------------------------------------------------------------------------------------------------
def _decode_range(path: str, first: float, last: float, seek: bool) -> tuple[list[float], list[np.ndarray]]:
    """Frames from the keyframe at or before `first` (or the start) up to the first frame at or after `last`."""
    loaded_ts: list[float] = []
    frames: list[np.ndarray] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        if seek and first > 0:
            container.seek(int(first / float(stream.time_base)), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            ts = float(frame.pts * stream.time_base)
            loaded_ts.append(ts)
            frames.append(frame.to_ndarray(format="rgb24"))
            DECODED["frames"] += 1
            if ts >= last:
                break
    return loaded_ts, frames


def decode_pyav(
    video_path: Any, timestamps: list[float], tolerance_s: float, backend: str | None = None
) -> torch.Tensor:
    """Drop-in for lerobot's `decode_video_frames`: (len(timestamps), 3, H, W) float32 in [0, 1]."""
    DECODED["calls"] += 1
    first, last = min(timestamps), max(timestamps)
    loaded_ts, frames = _decode_range(str(video_path), first, last, seek=True)
    if not loaded_ts or loaded_ts[0] > first + tolerance_s:  # the seek overshot: read from the start
        loaded_ts, frames = _decode_range(str(video_path), first, last, seek=False)
    query = np.asarray(timestamps, dtype=np.float64)
    dist = np.abs(query[:, None] - np.asarray(loaded_ts)[None, :])
    nearest = dist.argmin(axis=1)
    within = dist[np.arange(len(query)), nearest] < tolerance_s
    assert within.all(), (
        f"One or several query timestamps unexpectedly violate the tolerance ({tolerance_s=}): "
        f"queried {query[~within].tolist()}, loaded {loaded_ts}, video {video_path}"
    )
    out = np.stack([frames[i] for i in nearest])
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255


def _patch_lerobot() -> Any:
    import lerobot.datasets.lerobot_dataset as ld

    original_sync = ld.check_timestamps_sync

    def counting_sync(*args: Any, **kwargs: Any) -> bool:
        ok = original_sync(*args, **kwargs)
        SYNC_CALLS.append(bool(ok))
        return ok

    ld.decode_video_frames = decode_pyav  # lerobot_dataset imported the name, so patch it there
    ld.check_timestamps_sync = counting_sync
    return ld


# -- helpers --------------------------------------------------------------------------------------------------------
def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, np.ndarray | np.generic):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.flush()
    print(json.dumps(_jsonable(result)), flush=True)


def _items(spec: str | None) -> list[int]:
    return [int(x) for x in spec.split(",") if x.strip()] if spec else []


def _open(root: str, **kw: Any) -> Any:
    ld = _patch_lerobot()
    return ld.LeRobotDataset(REPO_ID, root=root, video_backend="pyav", **kw)


def _explicit_sync_check(ds: Any) -> bool:
    """lerobot's own `check_timestamps_sync` over the whole dataset, called as its `__init__` does."""
    from lerobot.datasets.utils import check_timestamps_sync

    timestamps = torch.stack(ds.hf_dataset["timestamp"]).numpy()
    episode_indices = torch.stack(ds.hf_dataset["episode_index"]).numpy()
    ep_index = {k: t.numpy() for k, t in ds.episode_data_index.items()}
    return bool(check_timestamps_sync(timestamps, episode_indices, ep_index, ds.fps, ds.tolerance_s))


def _item_record(ds: Any, idx: int, frames: dict[str, np.ndarray]) -> dict[str, Any]:
    item = ds[idx]
    record: dict[str, Any] = {"task": item["task"]}
    for key, value in item.items():
        if key in ds.meta.video_keys:
            frames[f"{idx}:{key}"] = value.numpy()
            record[key] = {"shape": list(value.shape), "dtype": str(value.dtype)}
        elif isinstance(value, torch.Tensor):
            record[key] = value.tolist()
    return record


# -- commands -------------------------------------------------------------------------------------------------------
def cmd_probe(_: argparse.Namespace) -> dict[str, Any]:
    import lerobot
    from lerobot.datasets.lerobot_dataset import CODEBASE_VERSION

    return {"lerobot": getattr(lerobot, "__version__", "?"), "codebase_version": CODEBASE_VERSION}


def cmd_load(args: argparse.Namespace) -> dict[str, Any]:
    ds = _open(args.root)
    sync_on_load = list(SYNC_CALLS)
    frames: dict[str, np.ndarray] = {}
    items = {str(i): _item_record(ds, i, frames) for i in _items(args.items)}
    if args.dump:
        np.savez(args.dump, **frames)
    result = {
        "num_episodes": ds.num_episodes,
        "num_frames": ds.num_frames,
        "len": len(ds),
        "fps": ds.fps,
        "episode_lengths": [ds.meta.episodes[i]["length"] for i in sorted(ds.meta.episodes)],
        "episode_from": ds.episode_data_index["from"].tolist(),
        "episode_to": ds.episode_data_index["to"].tolist(),
        "tasks": ds.meta.tasks,
        "features": ds.meta.features,
        "video_keys": ds.meta.video_keys,
        "stats_keys": sorted(ds.meta.stats),
        "stat_names": {k: sorted(v) for k, v in ds.meta.stats.items()},
        "sync_checks_on_load": sync_on_load,
        "sync_check_explicit": _explicit_sync_check(ds),
        "index_column": torch.stack(ds.hf_dataset["index"]).tolist(),
        "items": items,
        "decoder": dict(DECODED),
    }
    if args.stats:  # the extras save a process start (~3 s of imports) per check
        result["stats"] = _episode_stats(ds)
    if args.delta_items:
        result["delta"] = _delta_chunks(args.root, _items(args.delta_items), int(args.steps))
    return result


def cmd_load_many(args: argparse.Namespace) -> dict[str, Any]:
    """Load several datasets in one process (each start costs seconds of imports): totals, sync, first/last items."""
    out = {}
    for root in [args.root, *args.more]:
        ds = _open(root)
        frames: dict[str, np.ndarray] = {}
        last = len(ds) - 1
        items = {str(i): _item_record(ds, i, frames) for i in sorted({0, last})}
        shapes = {k: list(v.shape) for k, v in frames.items()}
        out[root] = {
            "num_episodes": ds.num_episodes,
            "num_frames": ds.num_frames,
            "fps": ds.fps,
            "episode_lengths": [ds.meta.episodes[i]["length"] for i in sorted(ds.meta.episodes)],
            "sync_check_explicit": _explicit_sync_check(ds),
            "video_keys": ds.meta.video_keys,
            "items": items,
            "frame_shapes": shapes,
        }
    return out


def _delta_chunks(root: str, items: list[int], steps: int) -> dict[str, Any]:
    ld = _patch_lerobot()
    fps = ld.LeRobotDatasetMetadata(REPO_ID, root=root).fps
    ds = _open(root, delta_timestamps={"action": [i / fps for i in range(steps)]})
    out = {}
    for idx in items:
        item = ds[idx]
        out[str(idx)] = {
            "shape": list(item["action"].shape),
            "action": item["action"].tolist(),
            "action_is_pad": item["action_is_pad"].tolist(),
            "episode_index": int(item["episode_index"]),
            "frame_index": int(item["frame_index"]),
        }
    return {"delta_indices": ds.delta_indices, "items": out}


def cmd_load_delta(args: argparse.Namespace) -> dict[str, Any]:
    return _delta_chunks(args.root, _items(args.items), int(args.steps))


def _lerobot_features(features: dict[str, Any]) -> dict[str, Any]:
    """Features as lerobot's writer expects them in memory: shapes as tuples (its validation compares tuples)."""
    return {k: {**ft, "shape": tuple(ft["shape"])} for k, ft in features.items()}


def cmd_write(args: argparse.Namespace) -> dict[str, Any]:
    ld = _patch_lerobot()
    spec = json.loads(Path(args.spec).read_text())
    data = np.load(args.frames)
    features = _lerobot_features(spec["features"])
    ds = ld.LeRobotDataset.create(
        REPO_ID,
        fps=spec["fps"],
        features=features,
        root=args.root,
        robot_type=spec.get("robot_type"),
        use_videos=True,
        image_writer_threads=int(spec.get("image_writer_threads", 0)),
    )
    for ep, task in enumerate(spec["tasks"]):
        n = len(data[f"{ep}:{next(iter(features))}"])
        columns = {key: data[f"{ep}:{key}"] for key in features}
        for i in range(n):
            ds.add_frame({key: col[i] for key, col in columns.items()}, task=task)
        ds.save_episode()
    ds.stop_image_writer()
    return {"root": args.root, "num_episodes": ds.meta.total_episodes, "num_frames": ds.meta.total_frames}


def _episode_stats(ds: Any) -> dict[str, Any]:
    """lerobot's `compute_episode_stats` on each episode's parquet columns (cameras excluded: no frames on disk)."""
    from lerobot.datasets.compute_stats import compute_episode_stats

    keys = [k for k in ds.meta.features if k not in ds.meta.video_keys]
    out = {}
    for ep in range(ds.num_episodes):
        lo, hi = int(ds.episode_data_index["from"][ep]), int(ds.episode_data_index["to"][ep])
        rows = ds.hf_dataset[lo:hi]  # lerobot's torch transform (datasets' numpy formatter wants torchvision.io)
        episode_data = {k: torch.stack(rows[k]).numpy() for k in keys}
        out[str(ep)] = compute_episode_stats(episode_data, ds.meta.features)
    return out


def cmd_stats(args: argparse.Namespace) -> dict[str, Any]:
    return {"stats": _episode_stats(_open(args.root))}


def _normalize_module() -> Any:
    import importlib.util

    import lerobot

    path = Path(lerobot.__file__).parent / "policies" / "normalize.py"
    spec = importlib.util.spec_from_file_location("lerobot_033_normalize", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cmd_normalize(args: argparse.Namespace) -> dict[str, Any]:
    from lerobot.configs.types import FeatureType, NormalizationMode
    from lerobot.datasets.utils import dataset_to_policy_features
    from torch.utils.data import default_collate

    normalize = _normalize_module()
    norm_map = {t: NormalizationMode.MEAN_STD for t in (FeatureType.VISUAL, FeatureType.STATE, FeatureType.ACTION)}
    out = {}
    for root in [args.root, *args.more]:
        ds = _open(root)
        features = dataset_to_policy_features(ds.meta.features)
        inputs = {k: f for k, f in features.items() if f.type is not FeatureType.ACTION}
        outputs = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
        batch = default_collate([ds[i] for i in _items(args.items)])
        result: dict[str, Any] = {
            "state": sorted(k for k, f in inputs.items() if f.type is FeatureType.STATE),
            "action": sorted(outputs),
        }
        try:
            normed = normalize.Normalize(inputs, norm_map, ds.meta.stats)(batch)
            normed = normalize.Normalize(outputs, norm_map, ds.meta.stats)(normed)
            result |= {"ok": True, "dtypes": {k: str(normed[k].dtype) for k in features if k in normed}}
        except Exception as e:  # reported to the test
            result |= {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out[root] = result
    return out


COMMANDS = {
    "probe": cmd_probe,
    "normalize": cmd_normalize,
    "load": cmd_load,
    "load-many": cmd_load_many,
    "load-delta": cmd_load_delta,
    "write": cmd_write,
    "stats": cmd_stats,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("root", nargs="?")
    parser.add_argument("more", nargs="*", help="load-many: further dataset roots")
    parser.add_argument("--items")
    parser.add_argument("--dump")
    parser.add_argument("--steps", default="16")
    parser.add_argument("--delta-items", help="load: also return `load-delta` for these items")
    parser.add_argument("--stats", action="store_true", help="load: also return `stats`")
    parser.add_argument("--spec")
    parser.add_argument("--frames")
    args = parser.parse_args(argv)
    if args.command != "probe" and not args.root:
        parser.error(f"{args.command} needs ROOT")
    _emit(COMMANDS[args.command](args))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:  # the session's one oracle process (tests/oracle/oracle_serve.py)
        from oracle_serve import serve_forever

        serve_forever(main, int(sys.argv[2]), ("torch", "lerobot.datasets.lerobot_dataset", "lerobot.datasets.utils"))
    else:
        sys.exit(main(sys.argv[1:]))
