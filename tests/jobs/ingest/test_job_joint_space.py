"""The ingest job end to end on the real GR00T GR1 sample (a joint-space humanoid): the catalog lists every episode
as gr1 with actions and tier high, its geometry QA columns hold the invariants, the written dataset carries the
48-dim mask (both wrists and fingertips), and the real lerobot loads it. Before issue 14 every episode of this
sample was written actionless with an empty mask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonical import FINGERTIPS_XYZ, WRIST_POS, WRIST_ROT6D, hand_dims
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

SAMPLE = "gr00t_robot_sim_picknplace"
# Ray start-up and encoding the five episodes' video: about 6 minutes on the shared 2-core machine
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("gr1_job")
    spec = {
        "output": str(tmp / "corpus"),
        "sources": [{"name": "gr00t", "adapter": "lerobot", "root": str(realdata(SAMPLE))}],
        "parallelism": {"max_in_flight": 2, "num_cpus": 2},
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    return tmp / "corpus"


def test_the_catalog_lists_gr1_episodes_with_actions_and_clean_geometry(corpus: Path) -> None:
    rows = run_query(
        corpus,
        "SELECT embodiment, tier, has_action, qa_left_of_right, qa_action_pos_err, qa_approach_up, dataset "
        "FROM episodes ORDER BY episode_uid",
    ).to_pylist()
    assert len(rows) == 5
    for r in rows:
        assert (r["embodiment"], r["tier"], r["has_action"]) == ("gr1", "high", True)
        assert r["qa_left_of_right"] == 1.0 and r["qa_action_pos_err"] < 1e-5 and r["qa_approach_up"] == 0.0
    assert not run_query(corpus, "SELECT * FROM quarantine").to_pylist()


@pytest.mark.oracle
def test_the_written_dataset_has_the_fk_mask_and_lerobot_loads_it(corpus: Path, run_oracle) -> None:
    [dataset] = {r["dataset"] for r in run_query(corpus, "SELECT dataset FROM episodes").to_pylist()}
    root = corpus / dataset
    mask = json.loads((root / "meta/info.json").read_text())["features"]["action"]["info"]["mask"]
    expected = [0] * 50
    for h in (0, 1):
        for part in (WRIST_POS, WRIST_ROT6D, FINGERTIPS_XYZ):
            expected[hand_dims(h, part)] = [1] * (part.stop - part.start)
    assert mask == expected
    res = run_oracle("load-many", root, timeout=300)[str(root)]
    assert res["num_episodes"] == 5 and res["fps"] == 10
