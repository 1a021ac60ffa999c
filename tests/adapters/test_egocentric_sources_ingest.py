"""The EPIC-KITCHENS, egocentric-video, HOT3D and VITRA adapters through the real Ray ingest job, in one job (one Ray
start): good clips become actionless episodes with their text as the task, HOT3D sequences and VITRA episodes (under
1 s, kept) hand episodes, and bad rows, samples and sequences are quarantined with their reason, file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.lerobot_format.files import read_jsonl
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.corrupt import write_epic_bad, write_hot3d_bad
from tests.fixtures.writers.egovideo import write_ego_variants
from tests.fixtures.writers.vitra import VitraEpisodeSpec, write_vitra

# the module's jobs run on one Ray (tests/ray_scope.py). Slow (~20 s): make test keeps these three sources' ingest end
# to end in the demo's job (tests/jobs/demo/test_pipeline.py: their good and corrupt episodes, quarantined with their
# reasons) and each adapter's bad input in its own tests (tests/adapters/{epic_kitchens,egovideo,hot3d}/)
pytestmark = [pytest.mark.shared_ray, pytest.mark.slow]


def test_epic_egocentric_shards_and_hot3d_are_ingested_end_to_end(tmp_path: Path) -> None:
    epic = write_epic_bad(
        tmp_path / "epic", ("bad_timestamp", "missing_video"), videos=2, segments_per_video=2, duration_s=3.0
    )
    shards = write_ego_variants(tmp_path / "ego", workers=1, clips_per_shard=2, seconds=2.0, bad=("bad_json",))
    hot3d = write_hot3d_bad(tmp_path / "hot3d", ("no_hand_source",))
    vitra = write_vitra(tmp_path / "vitra", [VitraEpisodeSpec("epic", "P01_01", "P01/videos/P01_01.MP4")])
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "epic", "adapter": "epic_kitchens", "root": str(epic.root)},
            {"name": "ego10k", "adapter": "ego_video", "root": str(shards.root)},
            {"name": "hot3d", "adapter": "hot3d", "root": str(hot3d.root)},
            {"name": "vitra", "adapter": "vitra", "root": str(vitra)},
        ],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["epic"].written == 4 and report.tallies["ego10k"].written == 2
    assert report.tallies["hot3d"].written == 2 and report.quarantined == 4
    assert report.tallies["vitra"].written == 1 and report.tallies["vitra"].frames == 8  # 0.77 s at 10 Hz

    rows = run_query(tmp_path / "corpus", "SELECT episode_uid, tier, has_action FROM episodes ORDER BY 1").to_pylist()
    assert [r["episode_uid"] for r in rows] == [
        *(f"ego10k/default/{c.raw_id}" for c in shards.good),
        "epic/train/P01_01_0",
        "epic/train/P01_01_1",
        "epic/train/P01_101_0",
        "epic/train/P01_101_1",
        "hot3d/aria/P0003_c701bd11",
        "hot3d/quest3/P0002_273c2819",
        "vitra/epic/epic_P01_01_ep_000000",
    ]
    video = [r for r in rows if not r["episode_uid"].startswith(("hot3d/", "vitra/"))]
    assert {r["tier"] for r in video} == {"actionless"} and not any(r["has_action"] for r in video)
    hands = [r for r in rows if r["episode_uid"].startswith(("hot3d/", "vitra/"))]
    assert {r["tier"] for r in hands} == {"high"} and all(r["has_action"] for r in hands)

    lines = read_jsonl(tmp_path / "corpus/datasets/epic/train" / EPISODES_PATH)
    assert {line["eidata"]["raw_id"]: line["tasks"] for _, line in lines} == {
        s.narration_id: [s.narration] for s in epic.good
    }  # the narration is the task
    sql = "SELECT source, field, file, message FROM quarantine ORDER BY 1, 2"
    q = [tuple(r.values()) for r in run_query(tmp_path / "corpus", sql).to_pylist()]
    assert [(source, field) for source, field, _, _ in q] == [
        ("ego10k", "json"),
        ("epic", "start_timestamp"),
        ("epic", "video"),
        ("hot3d", "hands"),
    ]
    assert "unreadable json sidecar" in q[0][3] and q[0][2].endswith(".tar")
    assert q[1][2].endswith("EPIC_100_train.csv") and "is not HH:MM:SS.ff" in q[1][3]
    assert "P30_05" in q[2][3] and "not on disk" in q[2][3]
    assert "mano_model_dir" in q[3][3] and q[3][2].endswith("P0099_bad00")
