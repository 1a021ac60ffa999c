"""The demo's raw corpus ingested on embedded Ray: the reference the ingest, kill and cluster tests compare against
(fixtures `raw` and `reference` in `tests/conftest.py`, built once per session)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from jobs.demo.corpus import write_demo_spec


def demo_spec(tmp: Path, raw: dict[str, Path], name: str = "corpus", **parallelism: int) -> Path:
    """The demo's spec over `raw`, writing to `tmp/name` (2 CPUs unless `parallelism` says otherwise)."""
    return write_demo_spec(tmp / f"{name}.yaml", raw, tmp / name, **{"num_cpus": 2, **parallelism})


def hashes(corpus: Path) -> dict[str, str]:
    """Every file of every dataset (what training reads): the job's own state and the catalog are left out."""
    base = corpus / "datasets"
    return {
        str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file() and ".eidata" not in p.parts
    }
