"""The ingest summary's lines about actions are true of real sources (issue 97 item 4; newcomer review 10, D6): one
job over the real SO-101 LeRobot v3 recording and the real robosuite raw Lift demos.

- The action legend names each source's own cause of a native-only action, the one its episodes' verdicts carry (the
  catalog's `tier_codes`): the SO-101 is described, its joints are in units that cannot be told apart (lerobot's
  -100..100 or degrees); robosuite's Panda is described, its raw file records no observation. Before, both read "no
  robot description"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.ingest.report import IngestReport
from jobs.spec import load_spec
from schemas.actions import NotCanonical
from tests.fixtures.without_videos import without_videos
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray  # one job on the module's Ray

SO101 = "lerobot_so101_record_test"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestReport]:
    tmp = tmp_path_factory.mktemp("summary_real")
    sources = [
        # its mp4s are not in the sample: undeclared, as tests/jobs/test_cli.py reads it
        {"name": "so101", "adapter": "lerobot", "root": str(without_videos(realdata(SO101), tmp / "so101"))},
        {"name": "robosuite", "adapter": "arrays", "root": str(realdata("robosuite_raw_lift"))},
    ]
    spec = {"output": str(tmp / "corpus"), "sources": sources, "parallelism": {"num_cpus": 2}}
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return tmp / "corpus", run_ingest(load_spec(tmp / "job.yaml"), progress=False)


def _lines(report: IngestReport, source: str) -> list[str]:
    return [line for line in report.table().splitlines() if line.startswith(f"  {source}: ")]


def _codes(corpus: Path, source: str) -> list[list[str]]:
    sql = f"SELECT tier_codes FROM episodes WHERE source = '{source}' ORDER BY episode_uid"
    return [r["tier_codes"] for r in run_query(corpus, sql).to_pylist()]


@pytest.mark.parametrize(
    ("source", "episodes", "cause", "words"),
    [
        ("so101", 4, NotCanonical.joint_units, "joint units not settled"),
        ("robosuite", 4, NotCanonical.no_observation, "no observation recorded to build a hand from"),
    ],
)
def test_the_action_legend_names_the_cause_the_episodes_carry(
    ingested: tuple[Path, IngestReport], source: str, episodes: int, cause: NotCanonical, words: str
) -> None:
    corpus, report = ingested
    assert report.tallies[source].written == episodes
    legend = [line for line in _lines(report, source) if ": actions: " in line]
    assert legend == [
        f"  {source}: actions: 0 canonical, {episodes} native only ({words}: action.native is the action), "
        "0 none (actionless)"
    ]
    assert "no robot description" not in report.table()
    codes = _codes(corpus, source)  # the catalog reads the same cause: each episode's note saying it
    assert len(codes) == episodes and all(cause.value in c for c in codes), codes
