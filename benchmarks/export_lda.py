"""LDA export throughput (issue 57): `eidata export --format lda` against copying the bytes of the same datasets and
against `eidata export --format lerobot-v3`, on one corpus of real samples written as ingest writes them.

The corpus: the real GR00T PickNPlace episodes (GR1, both arms), the Bridge debug shard (WidowX, one arm, three
cameras) and VITRA's Ego4D example (human hands), canonicalized and written at the spec's frame size (`--size`,
default 224x224); `--repeat N` writes each raw episode N times under other ids, for volume. Each contestant runs
in its own subprocess on the same corpus; CPU = the child's user + sys seconds (`getrusage(RUSAGE_CHILDREN)`); hours
of data per core-minute = (frames / 10 fps / 3600) / (CPU s / 60). The LDA export re-encodes every camera all-intra
H.264 (jobs/export/README.md, LDA): that, not the tables, is its cost. Progress on stderr, one JSON object on the
last stdout line.

    .venv/bin/python -m benchmarks.export_lda [--repeat 2] [--size 224x224]
    .venv/bin/python -m benchmarks.export_lda --smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from adapters.registry import get_adapter
from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log
from benchmarks.export_v3 import COPY, _timed
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import dataset_dir
from schemas.image_size import ImageSpec
from tests.ingest.qa.planted_raw import gr00t_raws, ingest, renamed
from tests.realdata import realdata


def write_corpus(root: Path, size: str, repeat: int, bridge: int) -> int:
    """The real samples canonicalized into `root` (each raw episode `repeat` times); the frames written."""
    spec = CanonicalizeSpec(image=ImageSpec(size=size))
    oxe, vitra = get_adapter("oxe"), get_adapter("vitra")
    shard = [r for r in oxe.discover(realdata("octo_bridge_debug_rlds")) if r.error is None][:bridge]
    raws = [*gr00t_raws(), *map(oxe.read, shard), *map(vitra.read, vitra.discover(realdata("vitra_ego4d_example")))]
    frames = 0
    for k in range(repeat):
        for raw in raws:
            raw = renamed(raw, f"{raw.ref.raw_id}~{k}") if k else raw
            written, why = ingest(raw, spec, root / dataset_dir(raw.ref.source, raw.ref.subset))
            frames += sum(len(ep.timestamps) for ep in written)
            if not written:
                log(f"not written: {raw.ref.raw_id}: {why}")
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", default="224x224")
    parser.add_argument("--bridge", type=int, default=25, help="Bridge episodes of the shard (25 at most)")
    args = parse_args(parser, {"repeat": 1, "size": "64x64", "bridge": 2}, "GR00T x5, 2 Bridge, VITRA at 64x64")
    with tempfile.TemporaryDirectory(prefix="eidata-export-lda-") as d:
        tmp = Path(d)
        corpus = tmp / "corpus"
        log(f"writing the corpus of real samples at {args.size}, each raw episode x{args.repeat}")
        frames = write_corpus(corpus, args.size, args.repeat, args.bridge)
        size_mb = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file()) / 2**20
        hours = frames / CANONICAL_FPS / 3600
        export = [sys.executable, "-m", "jobs.cli", "export", str(corpus), "--out"]
        runs: dict[str, dict] = {}
        log("copy (read + write every byte of the datasets)")
        runs["copy"] = _timed([sys.executable, "-c", COPY, str(corpus / "datasets"), str(tmp / "copied")])
        log("lerobot-v3")
        runs["lerobot_v3"] = _timed([*export, str(tmp / "v3"), "--format", "lerobot-v3"], cwd=ROOT)
        log("lda")
        runs["lda"] = _timed([*export, str(tmp / "lda"), "--format", "lda"], cwd=ROOT)
        written = {p.parent.parent.name for p in (tmp / "lda").rglob("meta/modality.json")}
    for r in runs.values():
        r["hours_per_core_minute"] = round(hours / (r["cpu_s"] / 60), 3) if r["cpu_s"] > 0 else None
    lda_cpu = runs["lda"]["cpu_s"]
    result = {
        "benchmark": "export_lda",
        "frames": frames,
        "hours": round(hours, 4),
        "corpus_mb": round(size_mb, 1),
        "size": args.size,
        "lda_datasets": sorted(written),
        "lda_cpu_vs_copy": round(lda_cpu / max(runs["copy"]["cpu_s"], 1e-9), 1),
        "lda_cpu_vs_lerobot_v3": round(lda_cpu / max(runs["lerobot_v3"]["cpu_s"], 1e-9), 2),
        **runs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
