"""A manifest's normalization statistics: masked union stats (`jobs/export/lerobot_v3/masked_stats.py`) against an
exact reference and against the rule they replace, on a real corpus's manifest.

For the manifest's plan (the episodes `eidata export --format lerobot-v3 --manifest NAME` would write; `--cameras`
as the export takes it):
- exactness: every statistic of `masked_stats` against numpy on the concatenated masked values (`np.quantile`,
  linear method), max absolute difference per statistic;
- cost: CPU seconds (an untraced run) and peak numpy/Python allocations (a second run under tracemalloc; pyarrow's
  buffers are not traced) of
  `masked_stats` (one read of each episode's file) and of the floor: one read of the same columns (`read_cpu_s`,
  pyarrow as `masked_stats` reads them) plus that exact reference on them (`exact_in_memory_cpu_s`: every masked
  value of every feature concatenated in float64, `np.quantile`), with the episode list repeated `--repeat` times to
  show what grows with the frame count; `ratio_to_floor` = masked_stats / (read + exact);
- what a QUANTILES-normalized policy sees (lerobot 0.6.1 `normalize_processor.py`: 2 (x - q01) / (q99 - q01) - 1) on
  the frames whose episode uses each action dim: the share within |z| <= 3 (worst dim, and all used values) and the
  largest |z|, for the masked union stats, for the same union without the mask, and for lerobot's rule (per-episode
  quantiles, `compute_episode_stats`'s definition, averaged by count: `aggregate_stats`), which is what stats.json
  held before; and the largest |z| over all frames, padding included, as lerobot normalizes them (it has no mask),
  with the padding as the source has it (0) and as the export writes it (the masked median).
One JSON object on the last stdout line.

    .venv/bin/python -m benchmarks.manifest_stats --corpus CORPUS --manifest NAME [--cameras none] [--repeat 1 4]
    .venv/bin/python -m benchmarks.manifest_stats --synthetic 200 400 --manifest all  # a corpus written on the spot
    .venv/bin/python -m benchmarks.manifest_stats --smoke     # a two-dataset corpus written on the spot

`--synthetic EPISODES FRAMES` writes a Franka dataset of EPISODES episodes and a human one of half as many, FRAMES
frames each (random values in every dim, tests/fixtures/corpus.py), with the manifests `all` (two embodiments) and
`franka` (one).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from adapters.lerobot_format.stats import QUANTILE_KEYS, QUANTILES, aggregate_stats, episode_stats
from adapters.lerobot_format.union_stats import UnionStats
from adapters.storage.corpus import Corpus
from benchmarks._cli import parse_args
from benchmarks._machine import log
from jobs.export.lerobot_v3.masked_stats import _masked_columns, _read, _used, masked_stats
from jobs.export.lerobot_v3.plan import ExportPlan, manifest_plan
from schemas.canonical import ACTION


def _columns(plan: ExportPlan) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """Per masked feature: each episode's [n, D] values and its [D] used mask, read as `masked_stats` reads them."""
    columns = _masked_columns(plan)
    dims = {c.key: int(plan.features[c.key]["shape"][0]) for c in columns}
    values: dict[str, list[np.ndarray]] = {c.key: [] for c in columns}
    used: dict[str, list[np.ndarray]] = {c.key: [] for c in columns}
    for ref in plan.episodes:
        read = _read(ref, columns, dims)
        for c in columns:
            values[c.key].append(read[c.key].astype(np.float32))
            used[c.key].append(_used(ref, c, dims[c.key]))
    return values, used


def _exact(values: list[np.ndarray], used: list[np.ndarray]) -> dict[str, np.ndarray]:
    """numpy on everything in memory: the reference."""
    anyone = np.logical_or.reduce(used)
    rows = np.concatenate(values).astype(np.float64)
    mask = np.concatenate([np.broadcast_to(u | ~anyone, v.shape) for v, u in zip(values, used, strict=True)])
    mask &= np.isfinite(rows)
    out: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *QUANTILE_KEYS)}
    for d in range(rows.shape[1]):
        x = rows[mask[:, d], d]
        for k, q in zip(QUANTILE_KEYS, np.quantile(x, QUANTILES), strict=True):
            out[k].append(q)
        out["min"].append(x.min())
        out["max"].append(x.max())
        out["mean"].append(x.mean())
        out["std"].append(x.std())
    return {k: np.array(v) for k, v in out.items()}


def _measured(fn: Any) -> tuple[Any, float, float]:
    """(result, CPU seconds of an untraced run, peak traced MB of a second, traced run: tracemalloc slows numpy)."""
    c0 = time.process_time()
    fn()
    cpu = time.process_time() - c0
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, cpu, peak


def _z_shares(values: list[np.ndarray], used: list[np.ndarray], q01: np.ndarray, q99: np.ndarray) -> dict[str, float]:
    rows = np.concatenate(values).astype(np.float64)
    mask = np.concatenate([np.broadcast_to(u, v.shape) for v, u in zip(values, used, strict=True)])
    z = 2 * (rows - q01) / np.where(q99 - q01 == 0, 1e-8, q99 - q01) - 1  # lerobot's eps for a zero range
    within = np.abs(z) <= 3
    dims = np.flatnonzero(mask.any(axis=0))
    return {
        "worst_dim_share": float(min(within[mask[:, d], d].mean() for d in dims)),
        "all_used_share": float(within[mask].mean()),
        "max_abs_z": float(np.abs(z[mask]).max()),
    }


def _synthetic_corpus(root: Path, episodes: int = 2, frames: int = 6) -> Path:
    """A Franka dataset and a human one (tests' tiny corpus writer, 8x8 camera), catalogued; manifests `all` of both
    and `franka`."""
    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.catalog.curate import curate
    from tests.fixtures.corpus import episode, write_dataset

    franka = [episode(frames, "pick", f"oxe/bridge/e{i}", "franka") for i in range(episodes)]
    write_dataset(root / "datasets/oxe/bridge", "franka", franka, camera=(8, 8))
    human = [episode(frames, "fold", f"egodex/basic/h{i}", "human", hands=True) for i in range(max(episodes // 2, 1))]
    write_dataset(root / "datasets/egodex/basic", "human", human, camera=(8, 8))
    rebuild_catalog(Corpus(root))
    curate(root, "all", "true", val_fraction=0.0)
    curate(root, "franka", "embodiment = 'franka'", val_fraction=0.0)
    return root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", type=Path)
    p.add_argument("--manifest")
    p.add_argument("--cameras", nargs="+", default=None)
    p.add_argument("--repeat", type=int, nargs="+", default=[1])
    p.add_argument("--synthetic", type=int, nargs=2, metavar=("EPISODES", "FRAMES"), default=None)
    args = parse_args(p, {"manifest": "all", "repeat": [1, 2]}, "a two-dataset corpus written on the spot")
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke or args.synthetic:
            args.corpus = _synthetic_corpus(Path(tmp) / "corpus", *(args.synthetic or (2, 6)))
        if args.corpus is None or args.manifest is None:
            p.error("--corpus and --manifest are needed (or --smoke)")
        measure(args)


def measure(args: argparse.Namespace) -> None:
    plan = manifest_plan(Corpus(args.corpus), args.manifest, args.cameras)
    base = list(plan.episodes)
    values, used = _columns(plan)
    frames = sum(len(v) for v in values[ACTION])
    embodiments = sorted({str(r.extra.get("embodiment")) for r in base})
    log(f"{args.manifest}: {len(base)} episodes, {frames} frames, embodiments {embodiments}")
    cost = []
    for k in args.repeat:
        plan.episodes = base * k
        ours, cpu_ours, peak_ours = _measured(lambda: masked_stats(plan))
        _, cpu_read, _ = _measured(lambda: _columns(plan))
        ref, cpu_ref, peak_ref = _measured(lambda k=k: {f: _exact(values[f] * k, used[f] * k) for f in values})
        diff = {f"{f}/{s}": float(np.nanmax(np.abs(ours.all[f][s] - ref[f][s]))) for f in ref for s in ref[f]}
        cost.append(
            {
                "repeat": k,
                "frames": frames * k,
                "masked_stats_cpu_s": round(cpu_ours, 3),
                "masked_stats_peak_mb": round(peak_ours, 2),
                "read_cpu_s": round(cpu_read, 3),
                "exact_in_memory_cpu_s": round(cpu_ref, 3),
                "exact_in_memory_peak_mb": round(peak_ref, 2),
                "ratio_to_floor": round(cpu_ours / (cpu_read + cpu_ref), 2),
                "max_abs_diff": diff,
            }
        )
        log(json.dumps(cost[-1]))
    plan.episodes = base
    st = masked_stats(plan).all[ACTION]
    everyone = [np.ones_like(u) for u in used[ACTION]]
    union = UnionStats(values[ACTION][0].shape[1])
    for v in values[ACTION]:
        union.add(v, np.ones(v.shape[1], bool))
    plain = union.result()
    lerobot = aggregate_stats([episode_stats({ACTION: v}) for v in values[ACTION]])[ACTION]
    rules = {
        "masked union (stats.json now)": (st["q01"], st["q99"]),
        "union, no mask": (plain["q01"], plain["q99"]),
        "lerobot: per-episode quantiles averaged (stats.json before)": (lerobot["q01"], lerobot["q99"]),
    }
    z = {name: _z_shares(values[ACTION], used[ACTION], *q) for name, q in rules.items()}
    for name, q in rules.items():  # every frame, padding included, as lerobot normalizes them (no mask)
        z[name]["max_abs_z_all_frames"] = _z_shares(values[ACTION], everyone, *q)["max_abs_z"]
    # as exported: a dim an episode does not use (but another does) holds the masked median
    anyone = np.logical_or.reduce(used[ACTION])
    fill = st["q50"].astype(np.float32)
    filled = [np.where(u | ~anyone, v, fill) for v, u in zip(values[ACTION], used[ACTION], strict=True)]
    z["masked union (stats.json now)"]["max_abs_z_all_frames_as_exported"] = _z_shares(
        filled, everyone, st["q01"], st["q99"]
    )["max_abs_z"]
    for name, shares in z.items():
        log(f"{name}: {shares}")
    out = {
        "manifest": args.manifest,
        "episodes": len(base),
        "frames": frames,
        "embodiments": embodiments,
        "cost": cost,
        "z_used_frames": z,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
