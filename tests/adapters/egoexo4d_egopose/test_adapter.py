"""Ego-Exo4D ego-pose takes as episodes (`adapters/egoexo4d_egopose/adapter.py`) on a download written in the
maker's layout (tests/fixtures/writers/egoexo4d_egopose.py): one episode per take and placement, the canonical hands
ahead of the wearer, below the eyes, left on the left, human-sized, the keypoints projecting inside the image through
the take's own camera poses and intrinsics, hands and video on one clock (frame number / 30 fps), a hand not
annotated (or from too few views) masked in exactly its frames, frames between sparse annotations never invented
(the spans too short to keep, rejected with that reason), and swapped sides, a missing camera pose file, a take not in
takes.json refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, RawEpisode
from adapters.registry import get_adapter
from schemas.canonicalize import CanonicalizeSpec
from tests.adapters.human_hands import assert_human_hands
from tests.fixtures.offline import prepare, prepared
from tests.fixtures.writers.egoexo4d_egopose import EgoPoseFixture, K, write_egopose

ADAPTER = "egoexo4d_egopose"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> EgoPoseFixture:
    return write_egopose(tmp_path_factory.mktemp("egopose"))


@pytest.fixture(scope="module")
def raws(fixture: EgoPoseFixture) -> dict[str, RawEpisode]:
    adapter = get_adapter(ADAPTER)
    return {ref.raw_id.split("/")[1]: adapter.read(ref) for ref in adapter.discover(fixture.root)}


def test_discovery_one_episode_per_take_and_placement(fixture: EgoPoseFixture) -> None:
    refs = list(get_adapter(ADAPTER).discover(fixture.root))
    assert sorted((r.subset, r.raw_id) for r in refs) == [
        ("automatic", f"train/{fixture.takes[1]}"),
        ("manual", f"train/{fixture.takes[0]}"),
    ]
    assert all(r.error is None for r in refs)


def test_canonical_hands_ahead_below_the_eyes_left_on_the_left_human_sized(raws: dict[str, RawEpisode]) -> None:
    episodes = [ep for raw in raws.values() for ep in prepared(raw, CanonicalizeSpec())]
    assert len(episodes) == len(raws)
    assert_human_hands(episodes)


def test_keypoints_project_inside_the_image_through_the_takes_camera(raws: dict[str, RawEpisode]) -> None:
    for raw in raws.values():
        cam = raw.camera_poses["aria01"]
        kp = raw.states["mano21_keypoints"]
        j = np.searchsorted(cam.timestamps, kp.timestamps)
        np.testing.assert_allclose(cam.timestamps[j], kp.timestamps)  # a pose at every annotated frame
        cam_from_world = np.linalg.inv(cam.values[j])
        p = np.einsum("tij,thkj->thki", cam_from_world[:, :3, :3], kp.values) + cam_from_world[:, None, None, :3, 3]
        seen = np.isfinite(p[..., 2])
        assert (p[..., 2][seen] > 0.2).all()
        uv = p[..., :2] / p[..., 2:] @ np.array(K)[:2, :2].T + np.array(K)[:2, 2]
        assert (uv[seen] > 0).all() and (uv[seen] < 512).all()
        assert np.nanmedian(uv[:, 0, :, 0]) < 256 < np.nanmedian(uv[:, 1, :, 0])  # left hand in the left half


def test_hands_and_video_share_one_clock(raws: dict[str, RawEpisode], fixture: EgoPoseFixture) -> None:
    raw = raws[fixture.takes[0]]
    video = raw.cameras["aria_rgb"]
    frames = np.round(raw.states["mano21_keypoints"].timestamps * 30).astype(int)
    assert frames.tolist() == (np.arange(fixture.frames) * fixture.step + 30).tolist()
    np.testing.assert_allclose(video.timestamps[frames], frames / 30, atol=1e-6)  # frame f at f / 30 s in the mp4
    assert raw.native_fps == pytest.approx(30 / fixture.step)
    assert (
        "aria_rgb" not in raws[fixture.takes[1]].cameras
        and "not downloaded" in raws[fixture.takes[1]].metadata["video"]
    )


def test_a_hand_not_annotated_or_from_two_views_is_masked_in_its_frames_only(
    raws: dict[str, RawEpisode], fixture: EgoPoseFixture
) -> None:
    (take, side, rows), *_ = fixture.missing
    (_, few_side, few_row), *_ = fixture.few_views
    kp = raws[take].states["mano21_keypoints"].values
    left = np.isnan(kp[:, 0]).all(axis=(1, 2))
    right = np.isnan(kp[:, 1]).all(axis=(1, 2))
    assert side == "left" and np.flatnonzero(left).tolist() == list(rows)
    assert few_side == "right" and np.flatnonzero(right).tolist() == [few_row]
    assert raws[take].metadata["masked_frames"] == {"left": 2, "right": 1}
    assert raws[take].metadata["partial"] == {"left": 0, "right": 1}
    [ep] = prepared(raws[take], CanonicalizeSpec())
    # kept for the other hand (issue 56 item 6): each hand invalid only between its samples around its masked rows
    t, grid = raws[take].states["mano21_keypoints"].timestamps, ep.span_s[0] + ep.timestamps
    for hand, gone in ((0, list(rows)), (1, [few_row])):
        inside = (grid > t[gone[0] - 1] + 1e-6) & (grid < t[gone[-1] + 1] - 1e-6)
        assert inside.any() and (ep.hand_valid[:, hand] == ~inside).all(), hand
        assert not ep.keypoints[inside, hand].any()
    assert ep.span_s[0] == pytest.approx(1.0) and np.isfinite(ep.keypoints).all() and ep.validity["non_finite"] == 0


def test_sparse_annotations_are_not_interpolated_across(tmp_path: Path) -> None:
    fx = write_egopose(tmp_path, frames=6, step=30)  # one annotated frame a second: gaps past max_gap_s 0.5
    adapter = get_adapter(ADAPTER)
    ref = next(r for r in adapter.discover(tmp_path) if r.subset == "automatic")
    raw = adapter.read(ref)
    assert raw.metadata["annotation_step_frames"] == 30 and len(raw.states["mano21_keypoints"]) == fx.frames
    result = prepare(raw, CanonicalizeSpec())
    assert not result.episodes and result.rejections


def swap_sides(path: Path) -> None:
    doc = json.loads(path.read_text())
    for entries in doc.values():
        ann = entries[0]["annotation3D"]
        entries[0]["annotation3D"] = {
            k.replace("left", "@").replace("right", "left").replace("@", "right"): v for k, v in ann.items()
        }
    path.write_text(json.dumps(doc))


def test_swapped_sides_missing_files_and_unknown_takes_are_named(tmp_path: Path) -> None:
    fx = write_egopose(tmp_path, frames=8)
    adapter = get_adapter(ADAPTER)
    hand = tmp_path / f"annotations/ego_pose/train/hand/automatic/{fx.takes[1]}.json"
    swap_sides(hand)
    ref = next(r for r in adapter.discover(tmp_path) if r.subset == "automatic")
    with pytest.raises(AdapterError) as e:
        adapter.read(ref)
    assert e.value.file == str(hand) and e.value.field == "left_wrist" and "left and right swapped" in e.value.reason
    (tmp_path / f"annotations/ego_pose/train/camera_pose/{fx.takes[1]}.json").unlink()
    takes = json.loads((tmp_path / "takes.json").read_text())
    (tmp_path / "takes.json").write_text(json.dumps(takes[1:]))
    refs = {r.subset: r for r in get_adapter(ADAPTER).discover(tmp_path)}
    assert refs["automatic"].error is not None and "camera_pose" in refs["automatic"].error
    with pytest.raises(AdapterError) as e:
        get_adapter(ADAPTER).read(refs["manual"])
    assert e.value.field == "take_uid" and fx.takes[0] in e.value.reason
