"""ARCTIC and TACO in their makers' layouts through the real Ray ingest job, in one job (one Ray start): each good
sequence an episode of the `human` embodiment with both hands' MANO-21 keypoints written (the MANO parameters
evaluated on the tests' model), tier high with actions, its egocentric view the head camera; a sequence missing its
egocentric camera file (ARCTIC) and one whose video lost frames (TACO) quarantined naming file and field."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from adapters.synthetic.arctic import ArcticSeqSpec, write_arctic
from adapters.synthetic.taco import TacoSeqSpec, write_taco
from adapters.synthetic.video import write_mp4
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonical import HAND_KEYPOINTS, bone_lengths
from tests.fixtures.mano import write_mano_npz

pytestmark = [pytest.mark.shared_ray]


def test_arctic_and_taco_are_ingested_with_hand_keypoints(tmp_path: Path) -> None:
    write_mano_npz(tmp_path / "mano")
    arctic = tmp_path / "arctic"
    data = write_arctic(arctic / "data", [ArcticSeqSpec(views=(0,)), ArcticSeqSpec(seq="laptop_use_02", views=(0,))])
    os.remove(data / "raw_seqs/s01/laptop_use_02.egocam.dist.npy")
    bad = TacoSeqSpec(triplet="(cut, knife, apple)", sequence="20231010_194", allocentric=False)
    taco = write_taco(tmp_path / "taco", [TacoSeqSpec(allocentric=False), bad])
    frames = (np.zeros((240, 320, 3), np.uint8) for _ in range(30))
    write_mp4(taco / "Egocentric_RGB_Videos/(cut, knife, apple)/20231010_194/color.mp4", frames, 30)
    options = {"mano_model_dir": str(tmp_path / "mano")}
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "arctic", "adapter": "arctic", "root": str(arctic), "options": options},
            {"name": "taco", "adapter": "taco", "root": str(taco), "options": dict(options)},
        ],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["arctic"].written == 1 and report.tallies["taco"].written == 1 and report.quarantined == 2
    assert report.tallies["arctic"].frames == 15 and report.tallies["taco"].frames == 15  # 1.5 s at 10 Hz

    sql = "SELECT episode_uid, embodiment, tier, has_action FROM episodes ORDER BY 1"
    rows = [tuple(r.values()) for r in run_query(tmp_path / "corpus", sql).to_pylist()]
    assert rows == [
        ("arctic/default/s01/box_grab_01", "human", "high", True),
        ("taco/default/20231105_019", "human", "high", True),
    ]
    for source in ("arctic", "taco"):
        (parquet,) = sorted((tmp_path / "corpus/datasets" / source).rglob("episode_*.parquet"))
        kp = np.array(pq.read_table(parquet).column(HAND_KEYPOINTS).to_pylist(), dtype=np.float64).reshape(15, 2, 21, 3)
        bones = bone_lengths(kp.reshape(-1, 21, 3))
        assert ((bones > 0.005) & (bones < 0.10)).all(), source  # both hands, every frame, human-sized
        assert (kp[:, 0, 0, 1] > kp[:, 1, 0, 1]).all(), source  # the left wrist left of the right one
    sql = "SELECT source, field, file, message FROM quarantine ORDER BY 1"
    q = [tuple(r.values()) for r in run_query(tmp_path / "corpus", sql).to_pylist()]
    assert [(s, f) for s, f, _, _ in q] == [("arctic", "egocam"), ("taco", "video")]
    assert q[0][2].endswith("laptop_use_02.egocam.dist.npy") and "missing" in q[0][3]
    assert q[1][2].endswith("color.mp4") and "30 frames for 45 pose frames" in q[1][3]
