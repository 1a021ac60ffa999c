"""Training epochs from a bucket beside the same epochs from local disk, in one run: seconds per epoch and bytes
fetched from the store, epoch 1 (cold cache) against the next ones (warm), and bytes fetched per byte used.

The corpus is the training tests' (tests/training/corpus.py: real writer, catalog and curate; `--scale` copies of its
episodes), put object by object into a SeaweedFS bucket on loopback (tests/s3/server.py), so the bucket column
measures the protocol's cost (requests, signing, the cache's copies), not a network. An epoch is every sample of the
train split once, through a DataLoader of `--workers` processes, batches of 8, as the trainer's dataset gives them;
local and bucket epochs alternate. Bytes fetched are the training cache's fetch log (every worker's fetches) plus
what the index and the statistics read in the main process; "used" is what the readers take (tests/training/reads.py).

    python -m benchmarks.train_bucket [--epochs 3] [--workers 2] [--scale 1] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from adapters.storage.urls import filesystem
from benchmarks._cli import parse_args
from benchmarks._machine import log, wait_quiet
from tests.fixtures.readback import fetched_bytes
from tests.training.corpus import ARM, EGO, MANIFEST, TEXT_DIM, Episode, build_corpus
from tests.training.reads import bytes_used
from training.config import PRESETS, DataConfig
from training.dataset import ManifestDataset, collate
from training.episodes import SampleIndex, build_index
from training.normalize import compute_stats

MODEL = PRESETS["tiny"].model.model_copy(update={"text_dim": TEXT_DIM})


def _epoch(index: SampleIndex, stats: Any, workers: int) -> float:
    dataset = ManifestDataset(index, stats, MODEL, index.manifest.routing, seed=0)
    order = np.random.default_rng(0).permutation(len(index))
    loader = DataLoader(
        dataset, batch_size=8, sampler=[(int(i), int(i)) for i in order], num_workers=workers, collate_fn=collate
    )
    t0 = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t0


def _scaled(scale: int) -> None:
    """`scale` copies of the corpus's episodes (names made distinct), written by the same writer; 1: the test
    corpus itself (its split, 103 train samples)."""
    import tests.training.corpus as corpus

    if scale == 1:
        return

    corpus.ARM = [Episode(f"{e.name}-{k}", e.tier, e.length, e.task, e.latents) for k in range(scale) for e in ARM]
    corpus.EGO = [Episode(f"{e.name}-{k}", e.tier, e.length, e.task, e.latents) for k in range(scale) for e in EGO]


def main() -> None:
    from tests.s3.server import s3_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3, help="bucket epochs (the first cold) and as many local ones")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    ap.add_argument("--scale", type=int, default=1, help="copies of the test corpus's episodes")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for a quiet machine")
    args = parse_args(ap, {"epochs": 2, "workers": 0, "scale": 1, "quiet_wait": 0.0}, "two epochs, no workers")
    _scaled(args.scale)
    with tempfile.TemporaryDirectory(prefix="eidata-bench-train-bucket-") as tmp:
        manifest = build_corpus(Path(tmp) / "corpus")
        root = manifest.parent.parent
        with s3_server(Path(tmp) / "weed", ("bench",)) as server:
            fs, _ = filesystem("s3://bench", server.options())
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                fs.pipe_file(f"bench/corpus/{path.relative_to(root).as_posix()}", path.read_bytes())
            url = f"s3://bench/corpus/manifests/{MANIFEST}"
            quiet = wait_quiet(0.5, args.quiet_wait)
            data = DataConfig(num_workers=args.workers, cache_dir=str(Path(tmp) / "cache"))
            t0 = time.perf_counter()
            local = build_index(manifest, "train", MODEL, data)
            stats = compute_stats(local)
            local_setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            remote = build_index(url, "train", MODEL, data, storage=server.options())
            index_fetched = remote.files.meter.fetched
            remote_stats = compute_stats(remote)
            bucket_setup = time.perf_counter() - t0
            assert remote_stats == stats, "the bucket's statistics differ from the local ones"
            cache = remote.files.cache
            assert cache is not None
            setup_fetched = remote.files.meter.fetched
            before = fetched_bytes(cache)
            rows = []
            for epoch in range(1, args.epochs + 1):
                local_s = _epoch(local, stats, args.workers)
                bucket_s = _epoch(remote, stats, args.workers)
                fetched = fetched_bytes(cache) - before
                before += fetched
                rows.append({"epoch": epoch, "local_s": local_s, "bucket_s": bucket_s, "bucket_fetched": fetched})
                log(f"epoch {epoch}: local {local_s:.3f} s  bucket {bucket_s:.3f} s  fetched {fetched} B")
            used = bytes_used(local)
            total = setup_fetched + sum(r["bucket_fetched"] for r in rows)
    out = {
        "benchmark": "train_bucket",
        "samples": len(remote),
        "episodes": len(remote.episodes),
        "workers": args.workers,
        "setup_s": {"local": local_setup, "bucket": bucket_setup},
        "index_fetched": index_fetched,
        "stats_fetched": setup_fetched - index_fetched,
        "epochs": rows,
        "used": used,
        "fetched_per_used": total / used,
        **quiet,
        "loadavg_1m_after": os.getloadavg()[0],
    }
    log(f"fetched {total} B for {used} B used: {total / used:.3f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
