"""Ego4D video conventions: `is_stereo` videos come out as their left eye, and narration times count from the mp4's
first frame whatever its pts (`video_metadata.video_start_sec`)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from adapters.base import EpisodeRef
from adapters.ego4d.adapter import Ego4DAdapter
from adapters.synthetic.ego4d import Ego4DFixture, write_ego4d
from adapters.synthetic.video import synthetic_frame
from tests.adapters.ego4d.conftest import check_frames, psnr
from tests.fixtures.writers.ego4d import TIME_BASE, as_stereo, right_eye_frame, starting_at


def _refs(corpus: Ego4DFixture, uid: str) -> list[EpisodeRef]:
    return [r for r in Ego4DAdapter().discover(corpus.root) if r.raw_id.startswith(uid + "/")]


def _header(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height, s.start_time or 0


def test_stereo_video_is_read_as_its_left_eye(tmp_path: Path) -> None:
    corpus = write_ego4d(tmp_path, num_videos=2, duration_s=3.0, narrations_per_video=2)
    stereo, mono = as_stereo(corpus, 0), corpus.videos[1]
    assert _header(stereo.path)[:2] == (2 * corpus.width, corpus.height)  # side by side in the file
    assert json.loads(corpus.metadata_file.read_text())["videos"][0]["is_stereo"] is True
    for ref in _refs(corpus, stereo.uid):
        raw = Ego4DAdapter().read(ref)
        cam = raw.cameras["full_scale"]
        assert (cam.width, cam.height) == (corpus.width, corpus.height) and raw.metadata["is_stereo"] is True
        assert check_frames(raw, stereo, corpus) > 30  # every frame is the left eye at its video time
        start = raw.metadata["window_sec"][0]
        i, rgb = next(cam.frames([0]))
        frame_no = round((cam.timestamps[i] + start) * stereo.fps)
        assert psnr(rgb, right_eye_frame(corpus.height, corpus.width, frame_no, stereo.seed)) < 20  # not the right
    raw = Ego4DAdapter().read(_refs(corpus, mono.uid)[0])
    assert raw.cameras["full_scale"].width == corpus.width and raw.metadata["is_stereo"] is False
    assert check_frames(raw, mono, corpus) > 30


@pytest.mark.parametrize("start_sec", [0.021, 0.5])
def test_narration_times_count_from_the_first_frame(tmp_path: Path, start_sec: float) -> None:
    """0.021 s is the canonical start of the official notebook; 0.5 s (15 frames) makes a double or missing shift
    show in the pixels."""
    corpus = write_ego4d(tmp_path, num_videos=1, duration_s=3.0, narrations_per_video=3)
    starting_at(corpus, start_sec)
    (video,) = corpus.videos
    assert _header(video.path)[2] == round(start_sec / TIME_BASE)  # the first frame's pts, as in the real mp4s
    for ref in _refs(corpus, video.uid):
        raw = Ego4DAdapter().read(ref)
        assert check_frames(raw, video, corpus) > 30
        assert raw.metadata["video_start_sec"] == start_sec
        assert raw.metadata["stream_start_sec"] == pytest.approx(start_sec, abs=1e-4)
        assert "start_mismatch" not in raw.metadata


def test_first_frame_elsewhere_than_ego4d_json_says_is_flagged(tmp_path: Path) -> None:
    """A copy re-encoded from 0 next to ego4d.json's canonical 0.021 s: flagged, frames still counted from the
    copy's first frame."""
    corpus = write_ego4d(tmp_path, num_videos=1, duration_s=3.0, narrations_per_video=2)
    doc = json.loads(corpus.metadata_file.read_text())
    doc["videos"][0]["video_metadata"]["video_start_sec"] = 0.5
    corpus.metadata_file.write_text(json.dumps(doc))
    (video,) = corpus.videos
    raw = Ego4DAdapter().read(_refs(corpus, video.uid)[0])
    assert "0.500" in raw.metadata["start_mismatch"] and raw.metadata["stream_start_sec"] == 0.0
    assert check_frames(raw, video, corpus) > 30
    cam = raw.cameras["full_scale"]
    start = raw.metadata["window_sec"][0]
    shifted = round((cam.timestamps[0] + start + 0.5) * video.fps)  # what applying the offset again would show
    assert psnr(next(cam.frames([0]))[1], synthetic_frame(corpus.height, corpus.width, shifted, video.seed)) < 20
