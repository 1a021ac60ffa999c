"""What a source could not give reaches the user (issue 37): a v3.0 dataset whose `info.json` declares more episodes
than it lists and a camera without files, and an Aria recording given to the `hot3d` adapter (no HOT3D ground truth:
no episode at all), ingested by the real job. The summary names each with its root, the catalog keeps them
(`source_findings`), every written episode's lineage names those of its dataset, `validate` shows them, a no-op
rerun prints them again unchanged, and `--strict` fails on the source that yielded nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import jobs.cli
from adapters.lerobot_format.files import read_jsonl
from adapters.synthetic.lerobot import write_lerobot_v3
from jobs.catalog.query import run_query
from jobs.validate import validate_path
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.corrupt import break_lerobot_v3


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("findings")
    ds = tmp / "raw/so100_pick"
    write_lerobot_v3(ds, (12, 14), cameras={})
    break_lerobot_v3(ds, ghost_camera="observation.images.top")
    info = json.loads((ds / "meta/info.json").read_text())
    (ds / "meta/info.json").write_text(json.dumps(info | {"total_episodes": 5}, indent=4))  # 3 declared, not here
    aria = tmp / "aria/loc1_script1_seq1"
    aria.mkdir(parents=True)
    (aria / "metadata.json").write_text('{"device_serial": "1WM103600M1292"}')
    (aria / "recording.vrs").write_bytes(b"VRS")
    sources = [
        {"name": "pick", "adapter": "lerobot", "root": str(ds)},
        {"name": "aria", "adapter": "hot3d", "root": str(tmp / "aria")},
    ]
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump({"output": str(tmp / "corpus"), "sources": sources, "parallelism": {"num_cpus": 2}}))
    return path


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_findings_reach_summary_catalog_lineage_and_validate(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = Path(yaml.safe_load(spec.read_text())["output"])
    assert jobs.cli.main(["ingest", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "pick (" in out and "aria (" in out
    assert "WARNING total_episodes_mismatch: info.json total_episodes=5 but meta/episodes lists 2: 3 declared" in out
    assert "ghost_camera" in out and "observation.images.top" in out
    assert f"ERROR no_episodes: no episode found under {spec.parent / 'aria'}: loc1_script1_seq1: metadata.json" in out
    assert "expected sequence folders" in out

    rows = run_query(corpus, "SELECT source, code FROM source_findings ORDER BY source, code").to_pylist()
    assert [(r["source"], r["code"]) for r in rows] == [
        ("aria", "folder_skipped"),
        ("aria", "no_episodes"),
        ("pick", "ghost_camera"),
        ("pick", "total_episodes_mismatch"),
        ("pick", "v3_layout"),
    ]
    lines = [EpisodeLineage.of(line) for _, line in read_jsonl(corpus / "datasets/pick/so100_pick" / EPISODES_PATH)]
    assert len(lines) == 2
    for lin in lines:
        assert lin.source_findings is not None and len(lin.source_findings) == 2  # the warnings, not the info
        assert any(s.startswith("WARNING total_episodes_mismatch") for s in lin.source_findings)

    reports = validate_path(corpus, videos=False)
    by_root = {Path(r.root).name: r for r in reports}
    codes = {c for c, _ in by_root["so100_pick"].codes()}
    assert {"source_ghost_camera", "source_total_episodes_mismatch"} <= codes
    alone = by_root["source_findings"]  # the source that wrote no dataset
    assert {(q.code, q.severity) for q in alone.quirks} == {
        ("source_no_episodes", "warning"),
        ("source_folder_skipped", "warning"),
    }
    assert not alone.failed() and alone.failed(strict=True)

    before = sorted((p.name, p.read_bytes()) for p in (corpus / "catalog/source_findings").iterdir())
    assert jobs.cli.main(["ingest", str(spec), "--strict"]) == 1  # the no-op rerun: same findings, strict fails
    captured = capsys.readouterr()
    assert "ERROR no_episodes" in captured.out and "source aria yielded no episode" in captured.err
    assert sorted((p.name, p.read_bytes()) for p in (corpus / "catalog/source_findings").iterdir()) == before


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_an_ingest_that_writes_nothing_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 79 (review 8, 3g): a LeRobot folder given to `rosbag`, the only source, wrote nothing and exited 0."""
    write_lerobot_v3(tmp_path / "raw/so100", (12,), cameras={})
    sources = [{"name": "bags", "adapter": "rosbag", "root": str(tmp_path / "raw/so100")}]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"output": str(tmp_path / "corpus"), "sources": sources}))
    assert jobs.cli.main(["ingest", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error: nothing was written: source bags: no episode found under" in err, err


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_a_rerun_that_leaves_the_corpus_empty_exits_1_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 98 item 6 (newcomer review 10, D3): a source whose every episode was quarantined, rerun, skipped them as
    done and exited 0 with a corpus of no episode; the README's exit codes say 1."""
    raw = tmp_path / "raw/logs"
    raw.mkdir(parents=True)
    (raw / "log.csv").write_text("a,b\n1,2\n3,4\n")  # no column the preset names: quarantined at its read
    sources = [{"name": "logs", "adapter": "table_log", "root": str(raw), "options": {"preset": "ur_rtde"}}]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"output": str(tmp_path / "corpus"), "sources": sources}))
    assert jobs.cli.main(["ingest", str(spec)]) == 1
    capsys.readouterr()
    assert jobs.cli.main(["ingest", str(spec)]) == 1  # the rerun: 1 raw episode already done, none held
    err = capsys.readouterr().err
    assert "error: nothing was written: source logs: 1 quarantined by an earlier run" in err, err
