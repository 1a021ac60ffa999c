"""A small RoboMIND release through the real Ray ingest job: the joint-space robots (Franka, UR5e, AgileX) come out
with their FK masks, tier high and every geometry QA invariant passing; Tien Kung keeps its natives with the reason;
a truncated file and a Git LFS pointer are quarantined naming file, episode and field while the job goes on; the
real lerobot loads every written dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.synthetic.robomind import EpisodeSpec, write_robomind
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.qa_findings import findings, summarize
from jobs.spec import load_spec
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH, read_jsonl
from schemas.qa import QAConfig

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

EXPECTED = {  # subset -> (embodiment, tier, has_action)
    "franka_3rgb": ("franka", "high", True),
    "ur_1rgb": ("ur5e", "high", True),
    "agilex_3rgb": ("piper_dual", "high", True),
    "tienkung_xsens_1rgb": ("tienkung", "high", True),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("robomind_job")
    specs = [EpisodeSpec(robot, f"task_{robot}", f"1014_1446{k:02d}", 40) for k, robot in enumerate(EXPECTED)]
    specs += [EpisodeSpec("franka_3rgb", "task_franka_3rgb", "1014_150000", 40, split="val"),
              EpisodeSpec("ur_1rgb", "task_ur_1rgb", "1014_160000", 40, bad="truncated"),
              EpisodeSpec("agilex_3rgb", "task_agilex_3rgb", "1014_170000", 40, bad="lfs_pointer")]  # fmt: skip
    write_robomind(tmp / "robomind", specs, size=(32, 48), instructions={"task_ur_1rgb": "pick up the bread"})
    spec = {
        "output": str(tmp / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "robomind", "adapter": "robomind", "root": str(tmp / "robomind")}],
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.tallies["robomind"].written == 5 and report.quarantined == 2
    return tmp / "corpus"


def test_catalog_embodiments_tiers_and_quarantine(corpus: Path) -> None:
    rows = run_query(corpus, "SELECT episode_uid, embodiment, tier, has_action FROM episodes ORDER BY 1").to_pylist()
    got = {r["episode_uid"].split("/")[1]: (r["embodiment"], r["tier"], r["has_action"]) for r in rows}
    assert got == EXPECTED and len(rows) == 5
    q = run_query(corpus, "SELECT episode_uid, field, file, message FROM quarantine ORDER BY 1").to_pylist()
    assert [(r["episode_uid"], r["field"]) for r in q] == [
        ("robomind/agilex_3rgb/task_agilex_3rgb/train/1014_170000", "trajectory.hdf5"),
        ("robomind/ur_1rgb/task_ur_1rgb/train/1014_160000", "trajectory.hdf5"),
    ]
    assert "git lfs pull" in q[0]["message"] and "not a readable HDF5 file" in q[1]["message"]
    assert all(r["file"].endswith("/data/trajectory.hdf5") for r in q)


def test_joint_space_datasets_have_fk_masks_and_pass_qa(corpus: Path) -> None:
    for subset, (emb, _, _) in EXPECTED.items():
        root = corpus / "datasets/robomind" / subset
        mask = yaml.safe_load((root / INFO_PATH).read_text())["features"]["action"]["info"]["mask"]
        hands = (0, 1) if emb in ("piper_dual", "tienkung") else (1,)  # two arms; their grippers/hands stay native
        wrists = [d for h in hands for part in (WRIST_POS, WRIST_ROT6D) for d in range(50)[hand_dims(h, part)]]
        grip = list(range(50)[hand_dims(1, GRIPPER)]) if emb == "franka" else []
        assert [i for i, m in enumerate(mask) if m] == sorted(wrists + grip), subset
        records = [EpisodeLineage.of(line).qa for _, line in read_jsonl(root / EPISODES_PATH)]
        summary = summarize(subset, records)
        assert summary is not None and findings(summary, QAConfig()) == [], subset
        assert summary.record.action_pos_err is not None and summary.record.action_pos_err < 1e-5


def test_the_instruction_is_the_task(corpus: Path) -> None:
    lines = [line for _, line in read_jsonl(corpus / "datasets/robomind/ur_1rgb" / EPISODES_PATH)]
    assert [line["tasks"] for line in lines] == [["pick up the bread"]]


@pytest.mark.oracle
def test_lerobot_loads_every_robomind_dataset(corpus: Path, run_oracle) -> None:
    roots = [corpus / "datasets/robomind" / subset for subset in EXPECTED]
    res = run_oracle("load-many", *roots, timeout=300)  # one process: each lerobot start costs seconds
    for subset, root in zip(EXPECTED, roots, strict=True):
        r = res[str(root)]
        assert r["num_episodes"] == (2 if subset == "franka_3rgb" else 1) and r["fps"] == 10, subset
