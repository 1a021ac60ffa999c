"""`eidata latents` and `eidata caption` with `--address` on the three-node cluster write what embedded Ray writes
(tiny random DINOv3 and Qwen3-VL; one episode per model call, so no result depends on which episodes share a batch),
with their model actors sized to fit one node (the cluster has 3 CPUs, no node more than 1; sized from the cluster's
total, the actor would ask for 2 CPUs, which no node has). Captions and latents: the same bytes (our safetensors writer
sorts the header's metadata, which safetensors itself orders by a per-process hash)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from ingest.encoders.dinov3.model import EncoderSpec
from jobs.stages.caption import CaptionJob, CaptionStage
from jobs.stages.latents import LatentsJob, LatentsStage
from tests.fixtures.corpus import episode, write_dataset
from tests.fixtures.dinov3 import write_tiny_dinov3
from tests.fixtures.episodes import write_canonical_dataset
from tests.fixtures.qwen_vl import write_tiny_qwen3_vl


def _tree(root: Path, pattern: str) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.glob(pattern))
        if p.is_file()
    }


def _twins(base: Path, write: object) -> tuple[Path, Path]:
    """The same corpus twice: one for embedded Ray, one for the cluster."""
    embedded = base / "embedded" / "corpus"
    write(embedded)  # type: ignore[operator]
    on_cluster = base / "cluster" / "corpus"
    shutil.copytree(embedded, on_cluster)
    return embedded, on_cluster


# slow: ~24 s; make test keeps ingest on three nodes (test_ingest_cluster.py), a node lost mid-job and the shared-output
# check: the stages place their work through the same ray_pool
@pytest.mark.slow
def test_latents_on_the_cluster_equal_embedded(cluster: object, tmp_path: Path) -> None:
    model = write_tiny_dinov3(tmp_path / "dinov3-tiny")

    def corpus(root: Path) -> None:
        write_canonical_dataset(root / "datasets/alpha/one", [23, 12])
        write_canonical_dataset(root / "datasets/beta/two", [17])

    embedded, on_cluster = _twins(tmp_path, corpus)
    enc = EncoderSpec(model=str(model), batch_size=7)

    def job(root: Path, **kw: object) -> LatentsJob:
        return LatentsJob(root=root, encoder=enc, camera="all", frames_per_call=1, object_store_mb=256, **kw)  # type: ignore[arg-type]

    a = LatentsStage(job(embedded, num_cpus=2)).run(progress=False)
    b = LatentsStage(job(on_cluster)).run(address=cluster.address, progress=False)  # type: ignore[attr-defined]
    assert (a.written, a.failed) == (b.written, b.failed) == (6, [])
    files = sorted(p.relative_to(embedded) for p in embedded.glob("datasets/**/latents/**/*.safetensors"))
    assert len(files) == 6
    assert sorted(p.relative_to(on_cluster) for p in on_cluster.glob("datasets/**/latents/**/*.safetensors")) == files
    pattern = "datasets/**/latents/**/*.safetensors"
    assert _tree(embedded, pattern) == _tree(on_cluster, pattern)


@pytest.mark.slow  # ~19 s; make test keeps latents on the cluster (above), the same stage skeleton and placement
@pytest.mark.parametrize("batch", [1])
def test_captions_on_the_cluster_equal_embedded(cluster: object, tmp_path: Path, batch: int) -> None:
    model = write_tiny_qwen3_vl(tmp_path / "qwen3vl-tiny")

    def corpus(root: Path) -> None:
        texts = ["#C C picks up the cup from the table", "#O man X hands a knife to C", "put the lid on the jar"]
        write_dataset(
            root / "datasets/ego4d/default",
            "human",
            [episode(8 + i, t, f"ego4d/default/{i}", "human") for i, t in enumerate(texts)],
        )

    embedded, on_cluster = _twins(tmp_path, corpus)

    def job(root: Path, **kw: object) -> CaptionJob:
        return CaptionJob(root=root, model=model, batch_size=batch, object_store_mb=256, **kw)  # type: ignore[arg-type]

    a = CaptionStage(job(embedded, num_cpus=2)).run(progress=False)
    b = CaptionStage(job(on_cluster)).run(address=cluster.address, progress=False)  # type: ignore[attr-defined]
    assert (a.vlm + a.rule, a.failed) == (b.vlm + b.rule, b.failed) == (3, [])
    want = _tree(embedded, "datasets/**/meta/*.jsonl")
    assert want and _tree(on_cluster, "datasets/**/meta/*.jsonl") == want
