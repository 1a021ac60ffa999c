"""The latent action model (training/lam.py): a tiny joint run keeps its codebook alive (audit S5: before dead-code
restarts it collapsed to 1-2 codes of 128 within 15 steps)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.training.corpus import tiny_config
from training.trainer import METRICS, train


def test_tiny_joint_run_keeps_more_than_8_active_codes(manifest: Path, tmp_path: Path) -> None:
    cfg = tiny_config(manifest, schedule_steps=20, log_every=5)
    train(cfg, tmp_path / "run", device="cpu")
    records = [json.loads(line) for line in (tmp_path / "run" / METRICS).read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    for r in records[1:]:  # the first interval precedes any restart (restart_after = 5 idle steps)
        assert r["lam_active_codes"] > 8, r
        assert r["lam_perplexity"] > 8, r
        assert r["lam_z_std"] > 1e-3, r
