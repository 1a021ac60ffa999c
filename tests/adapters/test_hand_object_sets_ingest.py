"""ARCTIC, HOI4D, OakInk2 and TACO in their makers' layouts through the real Ray ingest job, in one job (one Ray
start): each good sequence an episode of the `human` embodiment with both hands' MANO-21 keypoints written (the MANO
parameters evaluated on the tests' model), tier high with actions, its egocentric view the head camera, its task kept
(HOI4D's from its C*/T* ids, OakInk2's program with each hand's primitives in `action_config`); a sequence missing its
egocentric camera file (ARCTIC), one whose video lost frames (TACO) and one without its camera trajectory (HOI4D)
quarantined naming file and field."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from adapters.lerobot_format.files import read_jsonl
from adapters.synthetic.video import write_mp4
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonical import HAND_KEYPOINTS, bone_lengths
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.mano import write_mano_npz
from tests.fixtures.writers.arctic import ArcticSeqSpec, write_arctic
from tests.fixtures.writers.hoi4d import Hoi4dSequenceSpec, write_hoi4d
from tests.fixtures.writers.oakink2 import TASK, OakInk2SequenceSpec, write_oakink2
from tests.fixtures.writers.taco import TacoSeqSpec, write_taco

pytestmark = [pytest.mark.shared_ray]
HOI4D_BAD = "ZY20210800003/H3/C7/N1/S2/s01/T1"


def test_the_hand_object_sets_are_ingested_with_hand_keypoints(tmp_path: Path) -> None:
    write_mano_npz(tmp_path / "mano")
    arctic = tmp_path / "arctic"
    data = write_arctic(arctic / "data", [ArcticSeqSpec(views=(0,)), ArcticSeqSpec(seq="laptop_use_02", views=(0,))])
    os.remove(data / "raw_seqs/s01/laptop_use_02.egocam.dist.npy")
    bad = TacoSeqSpec(triplet="(cut, knife, apple)", sequence="20231010_194", allocentric=False)
    taco = write_taco(tmp_path / "taco", [TacoSeqSpec(allocentric=False), bad])
    frames = (np.zeros((240, 320, 3), np.uint8) for _ in range(30))
    write_mp4(taco / "Egocentric_RGB_Videos/(cut, knife, apple)/20231010_194/color.mp4", frames, 30)
    hoi4d = write_hoi4d(tmp_path / "hoi4d", [Hoi4dSequenceSpec(), Hoi4dSequenceSpec(HOI4D_BAD)])
    (hoi4d / "HOI4D_annotations" / HOI4D_BAD / "3Dseg" / "output.log").unlink()
    oakink2 = write_oakink2(tmp_path / "oakink2", [OakInk2SequenceSpec()])
    options = {"mano_model_dir": str(tmp_path / "mano")}
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "arctic", "adapter": "arctic", "root": str(arctic), "options": options},
            {"name": "taco", "adapter": "taco", "root": str(taco), "options": dict(options)},
            {"name": "hoi4d", "adapter": "hoi4d", "root": str(hoi4d), "options": dict(options)},
            {"name": "oakink2", "adapter": "oakink2", "root": str(oakink2), "options": dict(options)},
        ],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert all(report.tallies[s].written == 1 for s in ("arctic", "taco", "hoi4d", "oakink2"))
    assert report.quarantined == 3
    assert report.tallies["arctic"].frames == 15 and report.tallies["taco"].frames == 15  # 1.5 s at 10 Hz
    assert report.tallies["hoi4d"].frames == 20 and report.tallies["oakink2"].frames == 17  # 2 s, 1.66 s

    sql = "SELECT episode_uid, embodiment, tier, has_action FROM episodes ORDER BY 1"
    rows = [tuple(r.values()) for r in run_query(tmp_path / "corpus", sql).to_pylist()]
    assert rows == [
        ("arctic/default/s01/box_grab_01", "human", "high", True),
        ("hoi4d/default/ZY20210800001-H1-C5-N12-S100-s01-T2", "human", "high", True),
        (f"oakink2/default/{OakInk2SequenceSpec().token}", "human", "high", True),
        ("taco/default/20231105_019", "human", "high", True),
    ]
    for source in ("arctic", "taco", "hoi4d", "oakink2"):
        (parquet,) = sorted((tmp_path / "corpus/datasets" / source).rglob("episode_*.parquet"))
        kp = np.array(pq.read_table(parquet).column(HAND_KEYPOINTS).to_pylist(), dtype=np.float64).reshape(-1, 2, 21, 3)
        bones = bone_lengths(kp.reshape(-1, 21, 3))
        assert ((bones > 0.005) & (bones < 0.10)).all(), source  # both hands, every frame, human-sized
        assert (kp[:, 0, 0, 1] > kp[:, 1, 0, 1]).all(), source  # the left wrist left of the right one
    sql = "SELECT source, field, file, message FROM quarantine ORDER BY 1"
    q = [tuple(r.values()) for r in run_query(tmp_path / "corpus", sql).to_pylist()]
    assert [(s, f) for s, f, _, _ in q] == [("arctic", "egocam"), ("hoi4d", "camera_poses"), ("taco", "video")]
    assert q[0][2].endswith("laptop_use_02.egocam.dist.npy") and "missing" in q[0][3]
    assert q[1][2].endswith(f"{HOI4D_BAD}/3Dseg/output.log")
    assert q[2][2].endswith("color.mp4") and "30 frames for 45 pose frames" in q[2][3]
    tasks = run_query(tmp_path / "corpus", "SELECT source, task FROM episodes WHERE source IN ('hoi4d', 'oakink2')")
    assert sorted(tuple(r.values()) for r in tasks.to_pylist()) == [
        ("hoi4d", "Bottle: Pour all the water into a mug"),
        ("oakink2", TASK),
    ]
    (_, line), *_ = read_jsonl(tmp_path / "corpus/datasets/oakink2/default" / EPISODES_PATH)
    hands = [(seg["hand"], seg["start_frame"], seg["end_frame"]) for seg in line["action_config"]]
    assert hands[:2] == [("left", 0, 8), ("right", 2, 12)]  # each hand's primitives, overlapping across hands
