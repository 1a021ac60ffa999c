"""Glitches and plateaus as `eidata validate` shows them (`ingest.qa.dataset`): a dataset of real GR00T PickNPlace
episodes written as ingest writes them, one with its right wrist read 0.8 rad off on three joints for 0.1 s, one with
its right elbow clipped at one value on 35 % of its frames, one with its right arm's stream held 1.5 s where it moves
(the command left as recorded): each is named with the signal, the value, the bounds and the episode; the clean
ones are not named; the info line gives the measured span."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from jobs.validate import validate_path
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import dataset_dir
from tests.ingest.qa.planted_raw import gr00t_raws, ingest, renamed
from tests.ingest.qa.real_signals import GR1_RIGHT_ARM, clamp, with_state, wrist_jump


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    raws = gr00t_raws()
    v = raws[4].states[GR1_RIGHT_ARM].values.astype(np.float64).copy()
    a = int(np.argmax(np.convolve(np.abs(np.diff(v, axis=0)).sum(axis=1), np.ones(30), mode="valid")))
    v[a : a + 30] = v[a]  # the right arm's stream held 1.5 s where it moves
    planted = [
        renamed(wrist_jump(raws[2], GR1_RIGHT_ARM, [4, 5, 6], 150), "planted_wrist_glitch"),
        renamed(clamp(raws[3], GR1_RIGHT_ARM, 3)[0], "planted_elbow_clamp"),
        renamed(with_state(raws[4], GR1_RIGHT_ARM, v), "planted_arm_frozen"),
    ]
    for raw in [raws[0], raws[1], *planted]:
        eps, rejected = ingest(raw, CanonicalizeSpec(), root / dataset_dir("lerobot", raw.ref.subset))
        assert rejected is None and len(eps) == 1, rejected
    return root


def test_glitch_and_plateau_named_with_signal_value_bounds_and_episode(corpus: Path) -> None:
    (report,) = validate_path(corpus, data=False)
    q = {x.code: x for x in report.quirks if x.code.startswith("qa_")}
    glitch = q["qa_glitch_value"]
    assert glitch.severity == "warning" and glitch.message.startswith("1 of 5 episodes -> low:")
    # the worst signal: a wrist joint (0.8 rad) or the FK wrist's rotation the three joints turn together (1.6 rad)
    m = re.search(r"planted_wrist_glitch: (\S+) left its trend by ([\d.]+) rad for 0.1 s at frame \d+", glitch.message)
    assert m and m[1] in (*(f"state.right_arm.motor_{k}" for k in (26, 27, 28)), "observation.state.right.wrist.rot6d")
    assert float(m[2]) > 0.7 and "> 0.30 rad and" in glitch.message and "sigmas of its steps > 20" in glitch.message
    plateau = q["qa_plateau_fraction"]
    assert plateau.message.startswith("1 of 5 episodes -> low: lerobot/gr00t_robot_sim_picknplace/planted_elbow_clamp")
    assert "state.right_arm.motor_25 held" in plateau.message and "of the moving frames > 10%" in plateau.message
    frozen = q["qa_stream_frozen_s"].message
    assert frozen.startswith("1 of 5 episodes -> low: lerobot/gr00t_robot_sim_picknplace/planted_arm_frozen: stream")
    assert "mid-episode while its command moved" in frozen and "> 0.50 s" in frozen
    assert "episode_000000" not in glitch.message + plateau.message + frozen
    info = q["qa_behaviour"].message
    assert re.search(r"glitch up to [\d.]+ rad", info) and "plateau 0..0." in info
