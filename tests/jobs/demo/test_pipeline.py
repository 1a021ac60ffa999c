"""`make demo` end to end: raw corpus in five formats -> Ray ingest -> queries -> manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.demo.pipeline import run_pipeline_demo
from schemas.manifest import Manifest, read_entries


def test_demo_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_pipeline_demo(tmp_path / "demo") == 0
    out = capsys.readouterr().out
    for step in (
        "1. writing a raw corpus",
        "2. eidata ingest",
        "2b. eidata caption",
        "by the rules",
        "hours by source x tier",
        "quarantine reasons",
        "pick up the cup from the table",
        "4.",
    ):
        assert step in out
    report = tmp_path / "demo/report.html"
    assert f"5. eidata report {tmp_path / 'demo/corpus'} --out {report}" in out
    assert 'data-section="frames"' in report.read_text()
    manifest_dir = tmp_path / "demo/corpus/manifests/demo_train"
    manifest = Manifest.load(manifest_dir)
    entries = read_entries(manifest_dir)
    assert manifest.name == "demo_train" and entries.num_rows > 0
    assert "actionless" not in set(entries.column("tier").to_pylist())
    # every camera is stored at the training size (`canonicalize.image` 224x224 pad), whatever the source recorded
    infos = sorted((tmp_path / "demo/corpus/datasets").glob("*/*/meta/info.json"))
    videos = [ft for p in infos for ft in json.loads(p.read_text())["features"].values() if ft["dtype"] == "video"]
    assert len(infos) >= 5 and videos and all(ft["shape"] == [224, 224, 3] for ft in videos)
