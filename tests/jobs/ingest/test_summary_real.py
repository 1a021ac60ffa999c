"""The ingest summary's lines about actions and poses are true of real sources (issue 97 item 4; newcomer review 10,
D6): one job over the real SO-101 LeRobot v3 recording, the real robosuite raw Lift demos and the real UR5e log, read
once declared as a UR3e and once as a UR5e.

- The action legend names each source's own cause of a native-only action, the one its episodes' verdicts carry (the
  catalog's `tier_codes`): the SO-101 is described, its joints are in units that cannot be told apart (lerobot's
  -100..100 or degrees); robosuite's Panda is described, its raw file records no observation. Before, both read "no
  robot description".
- A declared robot whose FK disagrees with the log's own TCP pose is a line naming the source, the episodes and the
  residuals, those the episode's note keeps; the same log declared as the UR5e it is agrees and has no such line.
  Before, only a note in `tier_notes` said so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from adapters.lerobot_format.files import read_jsonl
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.ingest.report import IngestReport
from jobs.spec import load_spec
from schemas.actions import NotCanonical
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from schemas.pose_agreement import FK_AGREEMENT, compared
from tests.adapters.table_log.test_real import NOTTS
from tests.fixtures.without_videos import without_videos
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray  # one job on the module's Ray

SO101 = "lerobot_so101_record_test"


def _ur5e_log(robot: str) -> dict:
    """The real UR5e log's options, its robot declared as `robot`: the logger's column map and rate
    (tests/adapters/table_log/test_real.py), a copy each (the spec states each value where it applies)."""
    return {"columns": json.loads(json.dumps(NOTTS)), "fps": 125, "robot": robot}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestReport]:
    tmp = tmp_path_factory.mktemp("summary_real")
    log = str(realdata("table_log_ur5e_notts"))
    sources = [
        # its mp4s are not in the sample: undeclared, as tests/jobs/test_cli.py reads it
        {"name": "so101", "adapter": "lerobot", "root": str(without_videos(realdata(SO101), tmp / "so101"))},
        {"name": "robosuite", "adapter": "arrays", "root": str(realdata("robosuite_raw_lift"))},
        {"name": "as_ur3e", "adapter": "table_log", "root": log, "options": _ur5e_log("ur3e")},
        {"name": "as_ur5e", "adapter": "table_log", "root": log, "options": _ur5e_log("ur5e")},
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


def test_a_declared_robot_whose_fk_disagrees_with_the_recorded_pose_is_a_summary_line(
    ingested: tuple[Path, IngestReport],
) -> None:
    corpus, report = ingested
    [dataset] = (corpus / "datasets" / "as_ur3e").iterdir()
    [(_, line)] = read_jsonl(dataset / EPISODES_PATH)
    [said] = compared(EpisodeLineage.of(line).tier_verdicts or [])  # the episode's own note, its figures
    assert not said.agree and said.pos_p50_mm > 40  # a UR5e's joints through a UR3e's FK: centimetres apart
    assert [x for x in _lines(report, "as_ur3e") if "FK" in x] == [
        f"  as_ur3e: recorded pose vs FK of ur3e: disagree in 1 of 1 episodes compared, position residual median "
        f"{said.pos_p50_mm:.1f} mm (p95 up to {said.pos_p95_mm:.1f} mm), rotation residual median "
        f"{said.rot_p50_deg:.2f} deg (p95 up to {said.rot_p95_deg:.2f} deg): is it a ur3e? check the joint mapping "
        f"and units (tier_notes, code {FK_AGREEMENT})"
    ]
    # the robot it is: compared, agrees, no line
    assert report.tallies["as_ur5e"].fk_compared == {"ur5e": 1}
    assert not [x for x in _lines(report, "as_ur5e") if "FK" in x]
