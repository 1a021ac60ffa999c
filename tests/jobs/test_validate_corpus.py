"""Geometry QA through a real ingest (the demo sources' raw formats on embedded Ray): each episode's lineage carries
its QA, the catalog answers it in SQL as qa_* columns, `eidata validate` and the report summarize it per dataset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.lerobot_format.files import read_jsonl
from jobs.catalog.query import run_query
from jobs.demo.corpus import write_demo_spec, write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.report.page import report_html
from jobs.spec import load_spec
from jobs.validate import validate_dataset
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

SOURCES = ("bridge", "egodex", "lerobot")  # a robot arm, two human hands with a posed camera, canonical input


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("qa")
    roots = {k: v for k, v in write_raw_corpus(tmp / "raw", corrupt=False).items() if k in SOURCES}
    run_ingest(load_spec(write_demo_spec(tmp / "spec.yaml", roots, tmp / "corpus", num_cpus=2)), progress=False)
    return tmp / "corpus"


def test_every_written_episode_carries_its_qa_in_the_lineage(corpus: Path) -> None:
    for dataset in (corpus / "datasets").glob("*/*"):
        lineages = [EpisodeLineage.of(line) for _, line in read_jsonl(dataset / EPISODES_PATH)]
        assert lineages and all(lin.qa is not None and lin.qa.frames for lin in lineages), dataset


def test_the_catalog_answers_the_invariants_in_sql(corpus: Path) -> None:
    sql = """SELECT dataset, avg(qa_hands_in_front) AS front, avg(qa_hands_in_image) AS image,
                    avg(qa_hands_ahead) AS ahead, avg(qa_hands_below_eyes) AS below,
                    avg(qa_hand_length) AS hand, avg(qa_left_of_right) AS lr, avg(qa_approach_down) AS down,
                    max(qa_speed_p99) AS speed, max(qa_action_pos_err) AS action, max(qa_gripper_max) AS grip
             FROM episodes GROUP BY 1 ORDER BY 1"""
    rows = {r["dataset"].split("/")[1]: r for r in run_query(corpus, sql).to_pylist()}
    assert set(rows) == set(SOURCES)
    human = rows["egodex"]
    assert human["front"] == 1.0 and human["image"] == 1.0  # in front of the camera and in its image
    assert human["ahead"] == 1.0 and human["below"] == 1.0 and human["lr"] == 1.0  # of the wearer, left on the left
    assert 0.14 < human["hand"] < 0.24 and human["grip"] is None
    for robot in ("bridge", "lerobot"):
        r = rows[robot]
        assert r["front"] is None and r["hand"] is None and r["lr"] is None  # no camera pose, no hands, one arm
        assert r["down"] is not None and r["grip"] is not None and r["speed"] > 0
    assert all(r["action"] < 1e-4 for r in rows.values())  # recomputed (and lerobot's own) deltas hit the next state


def test_validate_summarizes_each_dataset(corpus: Path) -> None:
    for dataset in (corpus / "datasets").glob("*/*"):
        report = validate_dataset(dataset, data=False, videos=False)
        (summary,) = [q for q in report.quirks if q.code == "qa_summary"]
        assert summary.severity == "info" and summary.message.startswith("geometry QA: ")


def test_the_report_has_a_qa_section_with_a_plot(corpus: Path) -> None:
    html = report_html(corpus)
    section = re.search(r'<section id="qa" data-section="qa">(.*?)</section>', html, re.S)
    assert section is not None
    body = section.group(1)
    assert len(re.findall(r'<img alt="geometry QA" src="data:image/png;base64,', body)) == 1
    for name in SOURCES:
        assert f"<td>datasets/{name}/" in body  # one overview row per dataset
