"""A Humanoid Everyday task through the ingest job (Ray, the catalog): a G1 and an H1_2 episode written, each with
its embodiment and a canonical action in the catalog, the rate its time stamps give; a malformed `data.json` in the
same zip quarantined with the field and the zip member named, while the job goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from tests.fixtures.writers.humanoid_everyday import EpisodeSpec, steps_of, write_task


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("he_job")
    bad = steps_of(EpisodeSpec("g1", seed=2))
    del bad[5]["states"]["hand_state"]
    specs = [EpisodeSpec("g1", seed=0, leading_null=2), EpisodeSpec("h1", seed=1), EpisodeSpec("g1", seed=2)]
    write_task(tmp / "he", "pick_up_the_cup", specs, docs={2: bad})
    spec = {
        "output": str(tmp / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "he", "adapter": "humanoid_everyday", "root": str(tmp / "he")}],
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.tallies["he"].written == 2 and report.quarantined == 1
    return tmp / "corpus"


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_catalog_embodiments_actions_and_quarantine(corpus: Path) -> None:
    sql = "SELECT episode_uid, embodiment, tier, action_kind FROM episodes ORDER BY 1"
    rows = run_query(corpus, sql).to_pylist()
    assert [(r["episode_uid"], r["embodiment"], r["action_kind"]) for r in rows] == [
        ("he/pick_up_the_cup/pick_up_the_cup/episode_0", "unitree_g1_dex3", "canonical"),
        ("he/pick_up_the_cup/pick_up_the_cup/episode_1", "unitree_h1_2", "canonical"),
    ]
    [q] = run_query(corpus, "SELECT episode_uid, field, file, message FROM quarantine").to_pylist()
    assert q["episode_uid"] == "he/pick_up_the_cup/pick_up_the_cup/episode_2" and q["field"] == "[5].states.hand_state"
    assert q["file"].endswith("pick_up_the_cup.zip!pick_up_the_cup/episode_2/data.json")
