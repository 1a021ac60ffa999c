"""The Ego4D family's shared fixture and helpers: a narration corpus with clipped videos, both narration passes, the
written narration of a ref, and a frame check against the frames the writer drew."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode
from adapters.synthetic.ego4d import PASSES, Ego4DFixture, Ego4DVideo, write_ego4d
from adapters.synthetic.video import synthetic_frame


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Ego4DFixture:
    return write_ego4d(tmp_path_factory.mktemp("ego4d"), clip_video=True)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def check_frames(raw: RawEpisode, video: Ego4DVideo, corpus: Ego4DFixture) -> int:
    """Every decoded frame equals the written one at its video time; returns the number of frames."""
    cam = next(iter(raw.cameras.values()))
    start = raw.metadata["window_sec"][0]
    frames = list(cam.frames())
    assert [i for i, _ in frames] == list(range(len(cam)))
    for i, rgb in frames:
        frame_no = round((cam.timestamps[i] + start) * video.fps)
        assert psnr(rgb, synthetic_frame(corpus.height, corpus.width, frame_no, video.seed)) > 30
    return len(frames)


BOTH = {"passes": list(PASSES)}


def narration_of(video: Ego4DVideo, ref: EpisodeRef) -> dict:
    _, pass_name, index = ref.raw_id.split("/")
    return video.narrations[pass_name][int(index)]
