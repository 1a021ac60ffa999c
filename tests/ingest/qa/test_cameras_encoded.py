"""The camera checks after a real encode: a real GR00T episode's frames with a 15 Hz cadence and with a planted freeze,
written by the writer's encoder (AV1 as lerobot writes it, H.264 as many datasets are) and decoded again. The codec's
noise on a repeated picture (AV1: none; H.264: up to 14/255 measured) stays inside the frozen-run bounds."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import tests.fixtures.behaviour_defects as plant
from ingest.lerobot.video import VideoCodec, VideoEncoder
from ingest.qa.cameras import camera_behaviour
from schemas.behaviour import BehaviourConfig
from tests.ingest.qa import gr00t_sample as g

CFG = BehaviourConfig()
CODECS = {"av1": VideoCodec(threads=1), "h264": VideoCodec.h264(threads=1)}


def round_trip(frames: np.ndarray, path: Path, codec: VideoCodec) -> np.ndarray:
    enc = VideoEncoder(path, frames.shape[2], frames.shape[1], int(g.FPS), codec)
    for f in frames:
        enc.encode(f)
    enc.close()
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_cadence_and_freeze_survive_the_codec(codec: str, tmp_path: Path) -> None:
    ep = g.episode(0)
    n = 200  # enough for both runs, a few seconds of encode
    cadence = np.repeat(ep.frames[:n:2], 2, axis=0)[:n]
    cam = camera_behaviour(round_trip(cadence, tmp_path / "cadence.mp4", CODECS[codec]), g.FPS, CFG)
    assert cam.repeat_period == 2 and cam.frozen_s < CFG.frozen_camera_s_low
    frozen = plant.frozen_camera(plant.Episode(ep.state[:n], ep.action[:n], ep.frames[:n], ep.fps), seconds=2.0)
    cam = camera_behaviour(round_trip(frozen.episode.frames, tmp_path / "frozen.mp4", CODECS[codec]), g.FPS, CFG)
    assert cam.frozen_s == pytest.approx(frozen.expect, abs=2 / g.FPS)
