"""Aria MPS folders through the ingest job (Ray, the writer, the catalog): the two good recordings written with hand
keypoints for both hands in every written frame where each is tracked (`observation.hand_valid`), the frames where a
hand was not tracked kept for the other hand with that hand's keypoints 0 and invalid (masked, never filled: issue 56
item 6), a folder whose hand tracking is of another session than its trajectory quarantined naming the file and
the field, and why each folder that gave nothing in the summary the ingest prints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from adapters.registry import get_adapter
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared
from tests.fixtures.writers.aria_mps import write_aria_mps, write_mps


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("aria_job")
    write_aria_mps(tmp / "raw")
    # rec03: its hand rows an hour after its trajectory ends (another session's file beside it)
    write_mps(tmp / "raw/rec03/mps", np.random.default_rng(9), 60, {}, start_us=5_000_000_000)
    traj = tmp / "raw/rec03/mps/slam/closed_loop_trajectory.csv"
    write_mps(tmp / "other", np.random.default_rng(10), 60, {}, start_us=1_000_000_000)
    traj.write_text((tmp / "other/slam/closed_loop_trajectory.csv").read_text())
    spec = {
        "output": str(tmp / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "aria", "adapter": "aria_mps", "root": str(tmp / "raw")}],
    }
    gaze = tmp / "raw/rec04/mps/eye_gaze/general_eye_gaze.csv"  # an MPS folder of eye gaze only: no episode
    gaze.parent.mkdir(parents=True)
    gaze.write_text("tracking_timestamp_us\n1\n")
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.tallies["aria"].written == 2 and report.quarantined == 1
    (tmp / "summary.txt").write_text(report.table())  # what the ingest prints at its end
    return tmp


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_hand_keypoints_written_for_both_hands_and_the_quarantine_named(corpus: Path) -> None:
    sql = "SELECT episode_uid, has_hands, dataset, episode_index FROM episodes ORDER BY 1"
    rows = run_query(corpus / "corpus", sql)
    uids = ["aria/default/rec01/mps", "aria/default/rec02/mps_rec02_vrs"]
    assert [r["episode_uid"] for r in rows.to_pylist()] == uids
    for r in rows.to_pylist():
        assert r["has_hands"]
        data = corpus / "corpus" / r["dataset"] / "data/chunk-000" / f"episode_{r['episode_index']:06d}.parquet"
        kp = np.stack(pq.read_table(data).column("observation.hand_keypoints").to_numpy(zero_copy_only=False))
        kp = np.array([np.stack([np.stack(h) for h in f]) for f in kp])  # (N,2,21,3)
        valid = np.stack(pq.read_table(data).column("observation.hand_valid").to_numpy(zero_copy_only=False))
        assert kp.shape[1:] == (2, 21, 3) and len(kp) >= 10 and valid.shape == (len(kp), 2)
        there = np.abs(kp).sum(axis=(2, 3)) > 0
        assert np.isfinite(kp).all() and (there == valid).all() and valid.any(axis=1).all()  # each hand where tracked
    [q] = run_query(corpus / "corpus", "SELECT episode_uid, field, file, message FROM quarantine").to_pylist()
    assert q["episode_uid"] == "aria/default/rec03/mps" and q["field"] == "hands"  # refused at discovery
    assert q["file"].endswith("rec03/mps/hand_tracking") and "not joined" in q["message"]
    assert "hand_tracking_results.csv (21 landmarks) spans 5000.000-" in q["message"]


def test_the_frames_of_a_missing_hand_keep_the_other_hand_and_mask_it(corpus: Path) -> None:
    adapter = get_adapter("aria_mps")
    ref = next(r for r in adapter.discover(corpus / "raw") if r.raw_id == "rec02/mps_rec02_vrs")
    [ep] = prepared(adapter.read(ref), CanonicalizeSpec())
    gone_s = (5 / 30, 9 / 30)  # rows 5-9 of 30 Hz: the right hand not tracked
    t = ep.span_s[0] + ep.timestamps
    inside = (t > 4 / 30 + 1e-6) & (t < 10 / 30 - 1e-6)  # between its last row before and its first after
    assert ep.span_s[0] <= gone_s[0] and inside.any()  # the episode keeps those frames, for the left hand
    assert (ep.hand_valid[:, 1] == ~inside).all() and ep.hand_valid[:, 0].all()
    assert np.isfinite(ep.keypoints).all() and not ep.keypoints[inside, 1].any()


@pytest.mark.shared_ray
def test_the_summary_says_why_each_folder_gave_nothing(corpus: Path) -> None:
    """Issue 66 item 1: the reason an MPS folder gives no episode is in the summary the ingest prints, not only in
    `eidata query`: a hand file of another session (with both spans) and a folder of eye gaze only."""
    summary = (corpus / "summary.txt").read_text()
    lines = [line for line in summary.splitlines() if "folder_skipped" in line]
    assert any("rec03/mps: hand_tracking_results.csv (21 landmarks) spans 5000.000-" in x for x in lines), summary
    assert any("not joined" in x for x in lines)
    assert any("rec04/mps: holds eye_gaze/ and no hand_tracking/" in x for x in lines), summary
