"""The proof by the real consumer: LDA-1B's own loader (`get_vla_dataset`, `LeRobotSingleDataset`,
`LeRobotMixtureDataset` of jiangranlv/latent-dynamics-action, `lda/dataloader/`) on the LDA export of real GR1,
Bridge and VITRA samples, with only the text the export printed pasted in, in LDA's pretraining setting
(`use_delta_action=true`) and its fine-tuning setting (the printed switch set false): every step's state, action
chunk, language and frames equal what eidata wrote, no sample raises (LDA hides that by drawing another), 16-step
chunks, the action mask only on the configured keys; and what LDA trains on equals the RECORDED motion of the right
frames, from the corpus's `observation.state` (never the export): for an observation at t, the motions t->t+1 ..
t+15->t+16 (pretraining, LDA's own differencing) or the poses and gripper openings at t+1 .. t+16 (fine-tuning). The
planted defect, the action one frame late (the export before issue 65), must fail that comparison.

Nothing of LDA's is in this repository and its dependencies (torch, torchvision 0.21, decord, transformers, ...) are
not eidata's, so it runs in another Python (`lda_consumer.py`):
- EIDATA_LDA_PYTHON: a Python with LDA's dependencies (jobs/export/README.md, "LDA": how to make one);
- EIDATA_LDA_CHECKOUT: a folder holding LDA's `lda/` package, else the real sample folder `lda_loader`
  (jiangranlv/latent-dynamics-action@99bf08b:lda/).
Without them it skips, naming what is missing."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info, read_jsonl
from ingest.frames import rot6d_to_matrix
from jobs.cli import main
from jobs.export.lda import columns, config
from schemas.actions import Convention, Reference, Timing
from schemas.canonical import ACTION_NATIVE, GRIPPER, STATE, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from tests.realdata import realdata

HARNESS = Path(__file__).with_name("lda_consumer.py")


def _needs() -> tuple[str, Path]:
    python = os.environ.get("EIDATA_LDA_PYTHON")
    if not python:
        pytest.skip("EIDATA_LDA_PYTHON is not set: a Python with LDA-1B's dependencies (jobs/export/README.md, LDA)")
    checkout = os.environ.get("EIDATA_LDA_CHECKOUT")
    return python, Path(checkout) if checkout else realdata("lda_loader")


def recorded_truth(corpus: Path, path: Path) -> None:
    """Per dataset and episode of the CORPUS, each LDA hand's recorded wrist position, rotation (3x3), gripper opening
    and whether it is tracked, from `observation.state` (a robot without a description: its recorded command,
    `action.native`), into `path` (.npz) for the harness. A single arm is LDA's
    left hand (`schemas/lda.py`), whichever canonical hand holds it; two arms and human hands keep their places."""
    arrays = {}
    for info_path in sorted(corpus.glob(f"datasets/*/*/{INFO_PATH}")):
        ds = info_path.parents[1]
        info = load_info(info_path)
        for _, line in read_jsonl(ds / EPISODES_PATH):
            index, mask = int(line["episode_index"]), np.asarray(EpisodeLineage.of(line).mask, dtype=bool)
            table = pq.read_table(ds / info.data_file(index))
            if not mask.any():  # a robot without a description: its recorded command
                command = np.stack(table[ACTION_NATIVE].to_numpy(zero_copy_only=False)).astype(np.float64)
                arrays[f"{ds.name}/{index}/command"] = command
                continue
            state = np.stack(table[STATE].to_numpy(zero_copy_only=False)).astype(np.float64)
            hands = [h for h in (0, 1) if mask[hand_dims(h, WRIST_POS)].any()]
            hands = [0, 1] if info.robot_type == "human" or len(hands) == 2 else hands
            n, key = len(state), f"{ds.name}/{index}"
            f = {"pos": np.zeros((n, 2, 3)), "rot": np.tile(np.eye(3), (n, 2, 1, 1)), "grip": np.zeros((n, 2))}
            f |= {"tracked": np.zeros((n, 2), bool), "used": np.zeros(2, bool), "gripper_used": np.zeros(2, bool)}
            for i, h in enumerate(hands):
                d6 = state[:, hand_dims(h, WRIST_ROT6D)]
                tracked = np.linalg.norm(d6, axis=1) > 1e-9
                f["tracked"][:, i], f["used"][i] = tracked, mask[hand_dims(h, WRIST_POS)].any()
                f["pos"][:, i] = state[:, hand_dims(h, WRIST_POS)]
                f["rot"][tracked, i] = rot6d_to_matrix(d6[tracked])
                f["grip"][:, i] = state[:, hand_dims(h, GRIPPER)][:, 0]
                f["gripper_used"][i] = mask[hand_dims(h, GRIPPER)].any()
            arrays |= {f"{key}/{name}": value for name, value in f.items()}
    np.savez(path, **arrays)


def _consume(
    lda_export: tuple[Path, str], corpus: Path, tmp_path: Path, setting: str, edit: tuple[str, str] = ("", "")
) -> dict:
    python, checkout = _needs()
    out, printed = lda_export
    root = tmp_path / "lda"  # LDA writes its steps cache (and stats, were they missing) into each dataset folder
    shutil.copytree(out, root)
    entry = printed.split("Paste into LDA's repository:\n", 1)[1].rsplit("\nlda: ", 1)[0]
    if setting == "finetune":  # the user sets the printed switch as the training config has use_delta_action
        assert config.switch_line(True) in entry
        entry = entry.replace(config.switch_line(True), config.switch_line(False))
    (tmp_path / "entry.py").write_text(entry.replace(*edit))
    recorded_truth(corpus, tmp_path / "truth.npz")
    report = tmp_path / "report.json"
    argv = [python, str(HARNESS), "--lda", str(checkout), "--root", str(root), "--entry", str(tmp_path / "entry.py")]
    run = subprocess.run(
        [*argv, "--setting", setting, "--truth", str(tmp_path / "truth.npz"), "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # nothing written into the user's LDA checkout
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(report.read_text())
    print(json.dumps(got), file=sys.stderr)
    return got


@pytest.fixture(scope="module")
def lda_export_late(real_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The planted defect: the export before issue 65, each absolute action row the state one frame later (the
    commanded timing of LeRobot and GR00T, not LDA's)."""
    _needs()  # skipped before the export where LDA's Python is not there
    out = tmp_path_factory.mktemp("lda_late") / "lda"
    printed = io.StringIO()
    late = Convention("lda", Timing.commanded, Reference.absolute, "planted: one frame late")
    with mock.patch.object(columns, "LDA", late), contextlib.redirect_stdout(printed):
        assert main(["export", str(real_corpus), "--format", "lda", "--out", str(out)]) == 0
    return out, printed.getvalue()


@pytest.mark.parametrize("setting", ["pretrain", "finetune"])
def test_ldas_loader_trains_on_the_recorded_motion(
    setting: str, lda_export: tuple[Path, str], real_corpus: Path, tmp_path: Path
) -> None:
    got = _consume(lda_export, real_corpus, tmp_path, setting)
    assert got["datasets"] == ["gr00t_robot_sim_picknplace", "bridge_dataset", "Ego4D"]
    assert got["steps"] == got["items"] == 149 + 21 + 3  # every third frame of 443, 57 and 9 (LDA's img_interval 3)
    assert got["values"] > 50_000 and got["frames"] == 3 * got["steps"] and got["language"] == 2 * got["steps"]
    for key in ("value_mismatches", "frame_mismatches", "language_mismatches", "retries", "bad_chunk_length"):
        assert got[key] == 0, key
    assert got["mask_outside_keys"] == 0 and got["no_truth"] == 0 and got["chunk_steps"] == 16
    assert got["motion_values"] > 20_000 and got["motion_mismatches"] == 0, got["max_diff"]
    assert got["gripper_values"] > 0 and got["gripper_mismatches"] == 0, got["max_diff"]


@pytest.mark.parametrize("setting", ["pretrain", "finetune"])
def test_a_chunk_one_frame_late_is_seen(
    setting: str, lda_export_late: tuple[Path, str], real_corpus: Path, tmp_path: Path
) -> None:
    got = _consume(lda_export_late, real_corpus, tmp_path, setting)
    assert got["value_mismatches"] == 0  # LDA reads the planted rows faithfully: only the recorded truth sees it
    assert got["motion_mismatches"] > got["motion_values"] // 4
    for name in ("gr00t_robot_sim_picknplace", "bridge_dataset", "Ego4D"):
        assert max(got["max_diff"][name]["xyz"], got["max_diff"][name]["rpy"]) > 1e-3, name


@pytest.mark.parametrize("setting", ["pretrain", "finetune"])
def test_robots_without_a_description_train_on_their_recorded_commands(
    setting: str, native_export: tuple[Path, str], native_corpus: Path, tmp_path: Path
) -> None:
    """Issue 65 item 2: a robot with a command but no wrist pose reaches LDA (two of them, two command widths, two
    tags) and LDA trains on its recorded command at t .. t+15 in both settings."""
    got = _consume(native_export, native_corpus, tmp_path, setting)
    assert sorted(got["datasets"]) == ["lingzu", "robocoin"]
    for key in ("value_mismatches", "frame_mismatches", "language_mismatches", "retries", "bad_chunk_length"):
        assert got[key] == 0, key
    assert got["mask_outside_keys"] == 0 and got["no_truth"] == 0 and got["chunk_steps"] == 16
    assert got["command_values"] > 10_000 and got["command_mismatches"] == 0, got["max_diff"]


def test_a_native_chunk_one_frame_late_is_seen(
    native_export: tuple[Path, str], native_corpus: Path, tmp_path: Path
) -> None:
    """The planted defect: the end-effector layouts' fine-tuning indices on a native command (the chunk t+1 ..
    t+16, one frame late for a command given at its own frame)."""
    native, late = "list(range(-5, 16))  # chunk", "list(range(-4, 17))  # chunk"
    got = _consume(native_export, native_corpus, tmp_path, "finetune", (native, late))
    assert got["command_mismatches"] > got["command_values"] // 4


def test_the_check_sees_ldas_default_backend_return_wrong_frames(
    lda_export: tuple[Path, str], real_corpus: Path, tmp_path: Path
) -> None:
    """The planted defect: LDA's default `torchvision_av` instead of the printed `decord` (frames from the keyframe
    on, not at the timestamps asked for): the same check must count wrong frames."""
    edit = ('video_backend = "decord"', 'video_backend = "torchvision_av"')
    got = _consume(lda_export, real_corpus, tmp_path, "finetune", edit)
    assert got["frame_mismatches"] > got["frames"] // 4 and got["value_mismatches"] == 0
