"""What the report plots, read from a known corpus (corpus.py): catalog aggregates (hours by source and tier,
lengths, quarantine reasons, latents/captions coverage), mask coverage and wrist trajectories per embodiment, frame
strips with keypoints projected by the stored intrinsics or a side panel when there are none."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs.report.data import (
    ReportError,
    coverage_by_source,
    dataset_view,
    durations_by_source,
    frame_indices,
    frame_strip,
    hours_by_source_tier,
    quarantine_reasons,
    require_catalog,
    wrist_trajectories,
)
from jobs.report.masks import corpus_masks
from schemas.robots.registry import default_registry
from tests.jobs.report.corpus import CAMERA


def test_frame_indices_span_the_episode() -> None:
    assert frame_indices(23, 8) == [0, 3, 6, 9, 13, 16, 19, 22]
    assert frame_indices(5, 8) == [0, 1, 2, 3, 4]  # a short episode: each frame once
    assert frame_indices(1, 8) == [0] and frame_indices(0, 8) == []


def test_catalog_aggregates(corpus: Path) -> None:
    hours = {(r["source"], r["tier"]): (r["hours"], r["episodes"]) for r in hours_by_source_tier(corpus)}
    assert hours.keys() == {("ego4d", "actionless"), ("egodex", "high"), ("oxe", "high"), ("oxe", "low")}
    assert hours[("oxe", "low")][1] == 1 and hours[("oxe", "high")][0] == pytest.approx(1.2 / 3600)  # 12 frames, 10 fps
    lengths = durations_by_source(corpus)
    assert sorted(lengths) == ["ego4d", "egodex", "oxe"] and sorted(lengths["oxe"]) == pytest.approx([0.9, 1.2])
    (reason,) = quarantine_reasons(corpus)
    assert (reason["source"], reason["stage"], reason["error_class"], reason["n"]) == (
        "oxe",
        "read",
        "CorruptRecordError",
        1,
    )
    coverage = {r["source"]: (r["episodes"], r["latents"], r["captions"]) for r in coverage_by_source(corpus)}
    assert coverage == {"ego4d": (1, 0, 0), "egodex": (1, 0, 0), "oxe": (2, 1, 1)}


def test_no_catalog_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no catalog .*run `eidata catalog"):
        require_catalog(tmp_path)


def test_plotted_numbers(corpus: Path) -> None:
    scan = corpus_masks(corpus)
    coverage = scan.coverage
    assert (scan.datasets, scan.episodes) == (3, 4)
    assert {e: n for e, (n, _) in coverage.items()} == {"franka": 2, "human": 1, "human_video": 1}
    for emb, (_, frac) in coverage.items():
        np.testing.assert_array_equal(frac, default_registry().get(emb).mask() if emb != "human_video" else 0)
    trajectories = wrist_trajectories(scan.wrists)
    assert [(t.label, sorted(t.wrists)) for t in trajectories] == [
        ("datasets/egodex/basic #0", ["left", "right"]),
        ("datasets/oxe/bridge #0", ["right"]),
    ]  # ego4d has no wrist; one episode per dataset
    assert trajectories[1].wrists["right"].shape == (12, 3) and trajectories[1].frame == "robot base"
    assert trajectories[0].frame == "first camera pose, gravity-aligned"  # human by its embodiment, fingers or not


def test_keypoints_are_projected_with_the_stored_intrinsics(corpus: Path) -> None:
    ds = dataset_view(corpus, "datasets/egodex/basic", first=1)
    strip = frame_strip(ds, count=4)
    assert strip is not None and strip.method == "projected" and strip.hands == [0, 1]
    assert "camera.intrinsics of observation.images.head in info.json" in strip.note
    kp = strip.keypoints[0]
    # OpenCV camera at the origin looking +z, points at z = 1: u = fx x + cx, v = fy y + cy
    want = np.stack([50 * kp[..., 0] + 32, 50 * kp[..., 1] + 24], axis=-1)
    np.testing.assert_allclose(strip.projected[0], want, atol=1e-4)
    assert np.all((want[..., 0] > 0) & (want[..., 0] < CAMERA[1]) & (want[..., 1] > 0) & (want[..., 1] < CAMERA[0]))


def test_other_data_strips_and_the_side_panel_fallback(corpus: Path) -> None:
    views = {
        n: dataset_view(corpus, n, first=1)
        for n in ("datasets/ego4d/clips", "datasets/oxe/bridge", "datasets/egodex/basic")
    }
    clip = frame_strip(views["datasets/ego4d/clips"])
    assert clip.method == "none" and clip.note.startswith("no hand keypoints")  # video only: no slot claimed
    robot = frame_strip(views["datasets/oxe/bridge"])
    assert robot.method == "none" and len(robot.frames) == 6 and robot.frames[0].shape == (*CAMERA, 3)
    human = views["datasets/egodex/basic"]
    human.info.features["observation.images.head"].info = None  # a dataset written before intrinsics were kept
    strip = frame_strip(human)
    assert strip.method == "side panel" and "stores no lens" in strip.note and strip.projected is None


def test_a_catalog_an_older_eidata_built_is_refused_naming_the_rebuild(corpus: Path, tmp_path: Path) -> None:
    """Its parts lack the newer columns (tier_notes, tier_details): the report says to rebuild, not a binder error."""

    copy = shutil.copytree(corpus, tmp_path / "c")
    require_catalog(copy)
    (part,) = sorted((copy / "catalog/episodes").glob("*.parquet"))
    pq.write_table(pq.read_table(part).drop_columns(["tier_notes", "tier_details"]), part)
    with pytest.raises(ReportError, match=r"older eidata \(no column tier_notes, tier_details\); run `eidata catalog"):
        require_catalog(copy)
