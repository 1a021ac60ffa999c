"""Ego4D Goal-Step on the maker's own annotations (`tests/data/real/ego4d_goalstep_excerpt/`, two entries of
facebookresearch/ego4d-goalstep `data/goalstep_valid.json`, values verbatim): every step and substep becomes an
episode, the real quirks (a goal ending past the video by its start offset, substeps reaching outside their step,
integer times) are read as documented. The videos are not redistributable: they are stand-ins written here with the
durations the goal spans give, so the frames checked are ours, the times and texts the maker's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import EpisodeRef
from adapters.ego4d import Ego4DAdapter
from adapters.synthetic.video import synthetic_frame, write_mp4
from tests.adapters.test_ego4d import psnr

LONG, SHORT = "c2d06df7-5d3a-4116-9edb-f1c81a4f669b", "6bb4a311-a05b-413e-879c-1c30809e62d4"
START = 0.0210286458333333  # LONG's goal start_time: the canonical video_start_sec (Ego4D Examples Notebook)
H, W = 32, 48
FPS = {LONG: 2, SHORT: 10}  # sparse stand-ins: only the times matter
SEED = {LONG: 1.0, SHORT: 2.0}


@pytest.fixture(scope="module")
def root(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("goalstep_real")
    (root / "v2/annotations").mkdir(parents=True)
    shutil.copy(realdata / "ego4d_goalstep_excerpt/goalstep_valid.json", root / "v2/annotations")
    # durations as the goal spans give them: LONG's goal is [START, START + 5052.9], SHORT's [0, 51.77]
    spans = {LONG: (5052.9, START, 280.0), SHORT: (51.77, 0.0, 51.77)}  # duration, start, seconds written
    meta = {
        "videos": [
            {
                "video_uid": uid,
                "is_stereo": False,
                "video_metadata": {"fps": float(FPS[uid]), "video_duration_sec": d, "video_start_sec": s},
            }
            for uid, (d, s, _) in spans.items()
        ]
    }
    (root / "ego4d.json").write_text(json.dumps(meta))
    for uid, (_, _, seconds) in spans.items():
        frames = (synthetic_frame(H, W, i, SEED[uid]) for i in range(round(seconds * FPS[uid])))
        write_mp4(root / "v2/full_scale" / f"{uid}.mp4", frames, FPS[uid], gop=10)
    return root


def refs(root: Path, **options: object) -> dict[str, EpisodeRef]:
    return {r.raw_id: r for r in Ego4DAdapter({"annotations": ["goalstep"], **options}).discover(root)}


def test_every_real_step_and_substep_is_an_episode(root: Path, realdata: Path) -> None:
    doc = json.loads((realdata / "ego4d_goalstep_excerpt/goalstep_valid.json").read_text())
    expected = []
    for goal in doc["videos"]:
        for i, step in enumerate(goal["segments"]):
            expected.append((f"{goal['video_uid']}/goalstep_val/{i:03d}", step["step_description"]))
            expected += [
                (f"{goal['video_uid']}/goalstep_val/{i:03d}/{j:03d}", s["step_description"])
                for j, s in enumerate(step["segments"])
            ]
    found = refs(root)
    assert sorted(found) == sorted(i for i, _ in expected) and len(found) == 15  # 5 + 8 substeps, 2
    assert not [r.error for r in found.values() if r.error]
    for raw_id, text in expected:
        assert found[raw_id].locator["segment"]["step_description"] == text


def test_goal_ending_past_the_video_by_its_start_offset_is_clipped_not_refused(root: Path) -> None:
    goals = refs(root, goalstep_levels=["goal"])
    long = goals[f"{LONG}/goalstep_val"]
    assert long.error is None and long.locator["window_sec"] == pytest.approx([START, 5052.9])
    assert long.locator["clipped_end_sec"] == pytest.approx(START, abs=1e-6)
    assert [n["level"] for n in long.locator["nested"]] == ["step"] * 5 + ["substep"] * 8
    tight = refs(root, goalstep_levels=["goal"], goalstep_end_tolerance_s=0.01)[f"{LONG}/goalstep_val"]
    assert "end_time 5052.921 is past the end of video" in tight.error and "videos[0].end_time" in tight.error


def test_real_step_with_substeps_outside_it(root: Path) -> None:
    ref = refs(root)[f"{LONG}/goalstep_val/004"]  # "Prepares the bread" [81.10459, 269], substeps 81.01371 .. 270
    raw = Ego4DAdapter().read(ref)
    fps, n = raw.native_fps, round((269 - 81.10459) * 2)
    assert (
        raw.language[0].text == "Prepares the bread" and raw.metadata["goal"]["goal_category"] == "COOKING:MAKE_BREAD"
    )
    config = raw.action_config
    assert len(config) == 8 and [c.action_text for c in config][:2] == ["weigh the dough"] * 2
    assert config[0].start_frame == 0 and config[0].model_extra["start_time"] == 81.01371  # starts before its step
    assert config[-1].end_frame == n and config[-1].model_extra["end_time"] == 270  # ends after it: clipped
    assert config[1].start_frame == round((97.3678 - 81.10459) * fps)
    assert [c.start_frame for c in config] == sorted(c.start_frame for c in config)


def test_real_steps_frames_lie_in_their_window(root: Path) -> None:
    found = refs(root)
    steps = {"000": (0, 27.20017, "Wash bowl"), "001": (28.02337, 48.00322, "Arrange counter-top")}  # as written
    for index, (s, e, text) in steps.items():
        raw = Ego4DAdapter().read(found[f"{SHORT}/goalstep_val/{index}"])
        cam = raw.cameras["full_scale"]
        times = cam.timestamps + s
        assert raw.language[0].text == text and times[0] >= s and times[-1] < e
        assert len(cam) == pytest.approx((e - s) * FPS[SHORT], abs=1.01)
        for i, rgb in cam.frames([0, len(cam) // 2, len(cam) - 1]):
            k = round(times[i] * FPS[SHORT])
            assert psnr(rgb, synthetic_frame(H, W, k, SEED[SHORT])) > 30
            assert np.all(np.isfinite(rgb))
