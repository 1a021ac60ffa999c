"""Run the real lerobot 0.6.1 (LeRobot v3.0) as a test oracle, in its own venv (`.venv-oracle-v30`, Python 3.12):
`.venv-oracle-v30/bin/python tests/oracle/lerobot_v30_oracle.py <command> <args...>`. Never import it from pytest.

torchcodec cannot load on these machines (docker/README.md, "Install traps"): `LeRobotDataset` is opened with
`video_backend="pyav"` (lerobot's own `decode_video_frames_pyav`), and `StreamingLeRobotDataset`, which calls
`decode_video_frames_torchcodec` unconditionally for RGB cameras, gets lerobot's own PyAV decoder in its place (same
timestamps, same tolerance). Every command prints one JSON object on the last stdout line.

Commands:
  probe                                   lerobot's version and CODEBASE_VERSION
  feature-stats IN.npz OUT.pkl            lerobot's `compute_episode_stats` of each array (numeric features)
  check ROOT... --dump DIR [--items-per-episode K] [--no-streaming-for ROOT]... [--write-ref DIR]
        for each v3.0 dataset: `LeRobotDataset` (totals, episodes metadata, tasks, every numeric column, items
        decoded at first/middle/last frame of each episode), `StreamingLeRobotDataset` (every item, unshuffled),
        lerobot's `compute_episode_stats` per episode and its `aggregate_stats` over them; arrays go to DIR/<i>.npz
  convert ROOT                            `convert_dataset_v21_to_v30` on ROOT in place; prints the error if it fails
  write-ref ROOT                          a small v3.0 dataset written by lerobot's own writer (the layout reference)
  train ROOT... --out DIR [--dump D] -- ARGS...   `lerobot-train` (its console entry point, `sys.argv` as a user's
        shell gives it) on each dataset with ARGS, in one process; each run's losses per step are read off its
        `update_policy` (a pass-through wrapper), and an exception is reported with its traceback's last frames;
        `--dump`: every batch its DataLoader gave (index, episode and frame, action chunk and its pad) to D/<i>.npz
  edit ROOT [ROOT2] --out DIR             `lerobot-edit-dataset` as a user runs it: delete_episodes (the first episode),
        split (first half / the rest by episode index), merge (the split halves, and ROOT2 when given: two exports),
        then `LeRobotDataset` loads every result: totals, features, tasks, episode columns and every numeric column
        (DIR/<name>.npz); an operation that raises is reported and leaves the others to run
  load ROOT... --out DIR                  `LeRobotDataset` of each: totals, features, tasks, episode columns, numeric
        columns (DIR/<i>.npz) and its first and last items decoded
  batch PLAN.json                         several of these in one process (each start costs seconds of imports):
        PLAN is a list of {"name": ..., "argv": [command, args...]}; prints {name: result}
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SVT_LOG", "1")

import numpy as np
import torch

REPO_ID = "local/x"
DRAWN = ("index", "episode_index", "frame_index", "action", "action_is_pad", "observation.state")  # train --dump


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor | np.ndarray | np.generic):
        return obj.tolist()
    return obj


def cmd_probe(_: argparse.Namespace) -> dict[str, Any]:
    import lerobot
    from lerobot.datasets import CODEBASE_VERSION

    return {"lerobot": lerobot.__version__, "codebase_version": CODEBASE_VERSION}


def cmd_feature_stats(args: argparse.Namespace) -> dict[str, Any]:
    from lerobot.datasets.compute_stats import compute_episode_stats

    data = np.load(args.roots[0])
    out = {}
    for key in data.files:
        v = data[key]
        ft = {"dtype": "bool" if v.dtype == bool else str(v.dtype), "shape": v.shape[1:] or (1,)}
        out[key] = compute_episode_stats({key: v}, {key: ft})[key]
    with open(args.roots[1], "wb") as f:
        pickle.dump(out, f)
    return {"features": len(out)}


def _patch_streaming() -> None:
    import lerobot.datasets.streaming_dataset as sd
    from lerobot.datasets.video_utils import decode_video_frames_pyav

    def pyav(video_path, timestamps, tolerance_s, decoder_cache=None, return_uint8=False, **_: Any):
        return decode_video_frames_pyav(video_path, timestamps, tolerance_s, return_uint8=return_uint8)

    sd.decode_video_frames_torchcodec = pyav


def _sample(ds: Any, k: int) -> list[int]:
    out = []
    for i in range(ds.num_episodes):
        ep = ds.meta.episodes[i]
        lo, hi = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
        out += sorted({lo, (lo + hi - 1) // 2, hi - 1}) if k >= 3 else [lo]
    return out


def _check_one(root: str, dump: Path, k: int, streaming: bool = True) -> dict[str, Any]:
    from lerobot.datasets import LeRobotDataset, StreamingLeRobotDataset, aggregate_stats
    from lerobot.datasets.compute_stats import compute_episode_stats

    ds = LeRobotDataset(REPO_ID, root=root, video_backend="pyav")
    arrays: dict[str, np.ndarray] = {}
    numeric = [key for key, ft in ds.meta.features.items() if ft["dtype"] not in ("video", "image", "string")]
    as_numpy = ds.hf_dataset.with_format("numpy")
    for key in numeric:
        shape = tuple(ds.meta.features[key]["shape"])
        vals = np.asarray(as_numpy[key])
        arrays[f"col:{key}"] = vals.reshape(len(vals)) if shape == (1,) else vals.reshape(len(vals), *shape)
    items = {}
    for idx in _sample(ds, k):
        item = ds[idx]
        items[str(idx)] = {"task": item["task"], "episode_index": int(item["episode_index"])}
        for key in ds.meta.video_keys:
            arrays[f"frame:{idx}:{key}"] = (item[key].numpy() * 255).round().astype(np.uint8)
        for key in numeric:
            arrays[f"item:{idx}:{key}"] = np.asarray(item[key])
    episodes = [{c: _jsonable(v) for c, v in ds.meta.episodes[i].items()} for i in range(ds.meta.total_episodes)]
    # lerobot's own stats of the data it loaded, episode by episode, aggregated as its writer does
    ep_stats = []
    for i in range(ds.num_episodes):
        lo, hi = int(episodes[i]["dataset_from_index"]), int(episodes[i]["dataset_to_index"])
        ep_stats.append(compute_episode_stats({c: arrays[f"col:{c}"][lo:hi] for c in numeric}, ds.meta.features))
    running = None
    for s in ep_stats:
        running = s if running is None else aggregate_stats([running, s])
    # streaming: every item once, in file order (it places a frame at index / fps in the episode's video file, which
    # holds only while each camera is one file: `--no-streaming` for datasets cut into several files)
    _patch_streaming()
    sds = StreamingLeRobotDataset(REPO_ID, root=root, shuffle=False, buffer_size=1)
    seen = []
    wanted = set(items)
    for item in sds if streaming else []:
        idx = int(item["index"])
        seen.append(idx)
        for key in numeric:
            arrays[f"stream:{idx}:{key}"] = np.asarray(item[key])
        if str(idx) in wanted:
            for key in ds.meta.video_keys:
                arrays[f"sframe:{idx}:{key}"] = (item[key].numpy() * 255).round().astype(np.uint8)
    np.savez(dump, **arrays)
    with open(str(dump) + ".stats.pkl", "wb") as f:
        pickle.dump({"episodes": ep_stats, "aggregate": running, "meta_stats": ds.meta.stats}, f)
    return {
        "num_episodes": ds.num_episodes,
        "num_frames": ds.num_frames,
        "len": len(ds),
        "fps": ds.fps,
        "video_keys": ds.meta.video_keys,
        "features": ds.meta.features,
        "tasks": ds.meta.tasks.reset_index().to_dict(orient="list"),
        "episodes": episodes,
        "items": items,
        "streaming_len": sds.num_frames,
        "streaming_seen": seen,
        "info_splits": ds.meta.info.splits,
    }


def cmd_check(args: argparse.Namespace) -> dict[str, Any]:
    dump = Path(args.dump)
    dump.mkdir(parents=True, exist_ok=True)
    if args.write_ref:  # one process for both: each start costs seconds of imports
        _write_ref(args.write_ref)
    plain = set(args.no_streaming_for or [])
    return {
        root: _check_one(root, dump / f"{i}.npz", args.items_per_episode, root not in plain)
        for i, root in enumerate(args.roots)
    }


def cmd_write_ref(args: argparse.Namespace) -> dict[str, Any]:
    _write_ref(args.roots[0])
    return {"root": args.roots[0]}


def _write_ref(root: str) -> None:
    """A small dataset written by lerobot 0.6.1's own writer: a camera, a 1-D, a 2-D and a bool feature, 3 episodes."""
    from lerobot.datasets import LeRobotDataset

    features = {
        "observation.images.head": {"dtype": "video", "shape": (32, 32, 3), "names": ["height", "width", "channels"]},
        "observation.state": {"dtype": "float32", "shape": (7,), "names": [f"j{i}" for i in range(7)]},
        "observation.kp": {"dtype": "float32", "shape": (2, 3), "names": None},
        "observation.flag": {"dtype": "bool", "shape": (1,), "names": None},
    }
    ds = LeRobotDataset.create(
        REPO_ID, fps=10, features=features, root=root, robot_type="testbot", use_videos=True, image_writer_threads=0
    )
    rng = np.random.default_rng(0)
    for ep, task in enumerate(["pick", "place", "pick"]):
        for i in range(12 + ep):
            ds.add_frame(
                {
                    "observation.images.head": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                    "observation.state": rng.normal(size=7).astype(np.float32),
                    "observation.kp": rng.normal(size=(2, 3)).astype(np.float32),
                    "observation.flag": np.array([i % 3 == 0]),
                    "task": task,
                }
            )
        ds.save_episode()
    ds.finalize()


def cmd_convert(args: argparse.Namespace) -> dict[str, Any]:
    from lerobot.scripts.convert_dataset_v21_to_v30 import convert_dataset

    try:
        convert_dataset(REPO_ID, root=args.roots[0], push_to_hub=False)
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        return {"ok": False, "error": f"{type(e).__name__}: {e}", "where": [f"{f.filename}:{f.name}" for f in tb]}
    return {"ok": True}


def _failure(e: BaseException) -> dict[str, Any]:
    tb = traceback.extract_tb(e.__traceback__)
    return {"ok": False, "error": f"{type(e).__name__}: {e}", "where": [f"{f.filename}:{f.name}" for f in tb][-8:]}


def _run_cli(main: Any, argv: list[str]) -> None:
    """A console entry point run as the shell would: `sys.argv` set, `SystemExit(0)` is success."""
    saved = sys.argv
    sys.argv = argv
    try:
        main()
    except SystemExit as e:
        if e.code not in (0, None):
            raise RuntimeError(f"{argv[0]} exited {e.code}") from e
    finally:
        sys.argv = saved


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    import lerobot.scripts.lerobot_train as lt

    losses: list[float] = []
    update = lt.update_policy

    def spy(tracker: Any, *a: Any, **k: Any) -> Any:
        out = update(tracker, *a, **k)
        losses.append(float(out[0].loss.val))
        return out

    lt.update_policy = spy
    batches: list[dict[str, np.ndarray]] = []
    cycle = lt.cycle

    def drawn(loader: Any) -> Any:  # the batches as the DataLoader gives them, before lerobot's preprocessor
        for batch in cycle(loader):
            batches.append({k: batch[k].numpy().copy() for k in DRAWN if k in batch})
            yield batch

    lt.cycle = drawn
    results = {}
    for i, root in enumerate(args.roots):
        losses.clear()
        batches.clear()
        argv = ["lerobot-train", f"--dataset.repo_id={REPO_ID}", f"--dataset.root={root}"]
        argv += [f"--output_dir={Path(args.out) / str(i)}", *args.extra]
        try:
            _run_cli(lt.main, argv)
            results[root] = {"ok": True, "losses": list(losses)}
        except Exception as e:  # reported to the test, which names the dataset
            results[root] = _failure(e) | {"losses": list(losses)}
        if args.dump and batches:
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            np.savez(Path(args.dump) / f"{i}.npz", **{k: np.concatenate([b[k] for b in batches]) for k in batches[0]})
    lt.cycle = cycle
    return results


def _load_summary(root: Path, dump: Path) -> dict[str, Any]:
    from lerobot.datasets import LeRobotDataset

    ds = LeRobotDataset(REPO_ID, root=root, video_backend="pyav")
    numeric = [k for k, ft in ds.meta.features.items() if ft["dtype"] not in ("video", "image", "string")]
    as_numpy = ds.hf_dataset.with_format("numpy")
    np.savez(dump, **{k: np.asarray(as_numpy[k]) for k in numeric})
    items = [ds[i] for i in sorted({0, len(ds) - 1})]  # decoded: the videos of the result play
    return {
        "num_episodes": ds.num_episodes,
        "num_frames": ds.num_frames,
        "features": ds.meta.features,
        "tasks": ds.meta.tasks.reset_index().to_dict(orient="list"),
        "episodes": [{c: _jsonable(v) for c, v in ds.meta.episodes[i].items()} for i in range(ds.meta.total_episodes)],
        "items_tasks": [it["task"] for it in items],
        "stats_keys": sorted(ds.meta.stats or {}),
    }


def cmd_load(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for i, root in enumerate(args.roots):
        try:
            results[root] = {"ok": True} | _load_summary(Path(root), out / f"{i}.npz")
        except Exception as e:  # reported to the test, which names the dataset
            results[root] = _failure(e)
    return results


def cmd_batch(args: argparse.Namespace) -> dict[str, Any]:
    plan = json.loads(Path(args.roots[0]).read_text())
    return {step["name"]: COMMANDS[step["argv"][0]](_parse(step["argv"])) for step in plan}


def cmd_edit(args: argparse.Namespace) -> dict[str, Any]:
    from lerobot.datasets import LeRobotDataset
    from lerobot.scripts.lerobot_edit_dataset import main as edit_main

    root, out = Path(args.roots[0]), Path(args.out)
    n = LeRobotDataset(REPO_ID, root=root, video_backend="pyav").num_episodes
    half = list(range(n // 2)), list(range(n // 2, n))
    base = ["lerobot-edit-dataset", f"--repo_id={REPO_ID}", f"--root={root}"]
    parts = [str(out / "split" / "a"), str(out / "split" / "b"), *args.roots[1:]]
    repo_ids = [f"local/p{i}" for i in range(len(parts))]
    ops = {
        "deleted": [*base, f"--new_root={out / 'deleted'}", "--operation.type=delete_episodes"],
        "split": [*base, f"--new_root={out / 'split'}", "--operation.type=split"],
        "merged": ["lerobot-edit-dataset", "--new_repo_id=local/merged", f"--new_root={out / 'merged'}"],
    }
    ops["deleted"].append("--operation.episode_indices=[0]")
    ops["split"].append(f'--operation.splits={{"a": {half[0]}, "b": {half[1]}}}')
    ops["merged"] += ["--operation.type=merge", f"--operation.repo_ids={repo_ids}", f"--operation.roots={parts}"]
    results: dict[str, Any] = {}
    for name, argv in ops.items():
        try:
            _run_cli(edit_main, argv)
            targets = (
                {"split/a": out / "split" / "a", "split/b": out / "split" / "b"}
                if name == "split"
                else {name: out / name}
            )
            for tname, troot in targets.items():
                results[tname] = {"ok": True} | _load_summary(troot, out / f"{tname.replace('/', '_')}.npz")
        except Exception as e:  # reported to the test, which names the operation
            results[name] = _failure(e)
    return results


COMMANDS = {
    "probe": cmd_probe,
    "feature-stats": cmd_feature_stats,
    "check": cmd_check,
    "convert": cmd_convert,
    "write-ref": cmd_write_ref,
    "train": cmd_train,
    "edit": cmd_edit,
    "load": cmd_load,
    "batch": cmd_batch,
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("roots", nargs="*")
    parser.add_argument("--dump")
    parser.add_argument("--items-per-episode", type=int, default=3, dest="items_per_episode")
    parser.add_argument(
        "--no-streaming-for",
        action="append",
        dest="no_streaming_for",
        help="check: a root to load with LeRobotDataset only (its streaming reader wants one video file per camera)",
    )
    parser.add_argument("--write-ref", dest="write_ref", help="check: first write-ref into this folder")
    parser.add_argument("--out", help="train, edit: the folder the runs and results go to")
    own, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = parser.parse_args(own)
    args.extra = extra
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    result = COMMANDS[args.command](args)
    sys.stdout.flush()
    print(json.dumps(_jsonable(result)), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:  # the session's one oracle process (tests/oracle/oracle_serve.py)
        from oracle_serve import serve_forever

        serve_forever(main, int(sys.argv[2]), ("torch", "lerobot.datasets", "lerobot.datasets.streaming_dataset"))
    else:
        sys.exit(main(sys.argv[1:]))
