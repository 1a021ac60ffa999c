"""The newcomer's bag case of issue 98 (review 10, D2): a real ROS 2 bag (`rosbag_ats`, the sqlite3 bag) ingested,
then its spec given `exclude_topics`. At e7043c41 the rerun said "1 raw episodes already done" (exit 0) and the
episode kept the excluded topic's columns; now the run stops before any work naming the option, and `--reread`
writes the episode without the topic, the topic named as excluded in its findings, once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import jobs.cli
from tests.fixtures.revisions import episodes, history
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray  # tests/ray_scope.py
BAG = "rosbag_ats/rosbags/ros2bag_killed_on_contact"  # tests/REAL_SAMPLES.md
TOPIC = "/controller/out/ik_check"  # a TwistStamped the bag holds 239 of: six native columns by default
COLUMNS = "controller.out.ik_check."


def _spec(tmp_path: Path, options: dict) -> Path:
    raw = tmp_path / "raw"
    if not raw.exists():
        shutil.copytree(realdata(BAG), raw / Path(BAG).name)
    path = tmp_path / "spec.yaml"
    source = {"name": "ats", "adapter": "rosbag", "root": str(raw), "options": {"subset": "db3", **options}}
    path.write_text(yaml.safe_dump({"output": str(tmp_path / "corpus"), "sources": [source]}), encoding="utf-8")
    return path


def _dataset(corpus: Path) -> tuple[list[str], list[str]]:
    """(the native state columns, the findings) of the one episode."""
    (info,) = (corpus / "datasets/ats").glob("**/meta/info.json")
    names = json.loads(info.read_text())["features"]["observation.state.native"]["names"]
    line = json.loads((info.parent / "episodes.jsonl").read_text())
    return names, line["eidata"]["source_findings"]


def test_a_bag_re_read_with_a_topic_excluded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    assert jobs.cli.main(["ingest", str(_spec(tmp_path, {}))]) == 0
    names, _ = _dataset(corpus)
    assert sum(n.startswith(COLUMNS) for n in names) == 6, names
    (before,) = episodes(corpus)

    spec = _spec(tmp_path, {"exclude_topics": [TOPIC]})
    capsys.readouterr()
    assert jobs.cli.main(["ingest", str(spec)]) == 2  # stopped before any work, naming the option
    err = capsys.readouterr().err
    assert f"options.exclude_topics: [] -> ['{TOPIC}']" in err and "--reread ats" in err, err
    assert _dataset(corpus)[0] == names and episodes(corpus) == [before]

    assert jobs.cli.main(["ingest", str(spec), "--reread", "ats"]) == 0
    after_names, findings = _dataset(corpus)
    assert not [n for n in after_names if n.startswith(COLUMNS)]
    assert [n for n in names if not n.startswith(COLUMNS)] == after_names  # every other column kept, in order
    assert any(f"topic {TOPIC} " in f and "excluded by the exclude_topics option" in f for f in findings), findings
    (after,) = episodes(corpus)
    assert after["episode_uid"] == before["episode_uid"] and after["reading"] == history(corpus)[-1]["fingerprint"]
    assert [h["reading"]["options"]["exclude_topics"] for h in history(corpus)] == [[], [TOPIC]]
