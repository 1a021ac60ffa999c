"""Issue 65 item 4: the user chooses the action space of a LeRobot export (`--action-space`), and a manifest is ONE
dataset OUT/NAME, or exactly what `--help` says where lerobot cannot hold its robots' actions as one.

On real recordings (`real_mix`, conftest.py: 2 GR00T PickNPlace episodes of a Fourier GR1, 3 Bridge episodes of a
WidowX): the GR1's joint targets leave as `action`, equal to the corpus's RECORDED `action.native` columns of its
arms and hands as the GR00T sample's own `meta/modality.json` slices them (never our exported rows), frame for frame
(`CONVENTIONS["lerobot"]`: row t is the command at t), and lerobot 0.6.1's `lerobot-train` draws exactly those.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs.cli import main
from jobs.export.lerobot_v3.job import export_corpus
from jobs.export.lerobot_v3.spaces import NoActionInSpace
from schemas.actions import CONVENTIONS, Timing
from schemas.canonical import ACTION, ACTION_NATIVE, STATE, STATE_NATIVE
from schemas.robots.registry import JOINT_SPACE
from tests.jobs.export.lerobot_v3.conftest import REAL_MIX
from tests.realdata import realdata

GR00T = "gr00t_robot_sim_picknplace"
# the GR1's arms and hands, in the description's order (schemas/robots/joint_space.yaml gr1: left arm, its hand,
# right arm, its hand), as the recording's own modality file slices its 44 motors
PARTS = ("left_arm", "left_hand", "right_arm", "right_hand")
CHUNK = 4  # the tiny ACT's chunk (test_clients.TRAIN_ARGS)


def _gr1(corpus: Path) -> Path:
    return next(p.parent.parent for p in (corpus / "datasets").rglob("info.json") if GR00T in str(p))


def _recorded(dataset: Path, column: str, group: str) -> dict[int, np.ndarray]:
    """Per source episode, the corpus's recorded `column` restricted to the modality slices of `PARTS` (`group`:
    `action` or `state`), read by the names the recording gives its motors."""
    slices = json.loads((realdata(GR00T) / "meta" / "modality.json").read_text())[group]
    wanted = [f"{group}.{p}.motor_{i}" for p in PARTS for i in range(slices[p]["start"], slices[p]["end"])]
    names = json.loads((dataset / "meta" / "info.json").read_text())["features"][column]["names"]
    cols = [names.index(n) for n in wanted]
    out = {}
    for f in sorted((dataset / "data").rglob("*.parquet")):
        t = pq.read_table(f, columns=[column, "episode_index", "frame_index"])
        assert np.array_equal(t["frame_index"].to_numpy(), np.arange(t.num_rows))
        out[int(t["episode_index"][0].as_py())] = np.stack(t[column].to_numpy(zero_copy_only=False))[:, cols]
    return out


def _exported(root: Path, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = pq.read_table(sorted((root / "data").rglob("*.parquet")), columns=[key, "episode_index", "frame_index"])
    values = np.stack(t[key].to_numpy(zero_copy_only=False))
    return t["episode_index"].to_numpy(), t["frame_index"].to_numpy(), values


def check_rows(episodes: np.ndarray, frames: np.ndarray, values: np.ndarray, recorded: dict[int, np.ndarray]) -> None:
    """Row (e, t) holds the recorded command at t (LeRobot's timing), exported episode e = the e-th source episode."""
    assert CONVENTIONS["lerobot"].timing is Timing.commanded
    sources = sorted(recorded)
    for e, t, v in zip(episodes, frames, values, strict=True):
        np.testing.assert_array_equal(v, recorded[sources[int(e)]][int(t)], err_msg=f"episode {e} frame {t}")


def check_chunks(drawn: dict[str, np.ndarray], recorded: dict[int, np.ndarray]) -> None:
    """Each item lerobot drew from frame t: its action chunk is the recorded commands t .. t+K-1 (padding past the
    episode's end flagged `action_is_pad`, never trained on by ACT)."""
    sources = sorted(recorded)
    for e, t, chunk, pad in zip(
        drawn["episode_index"], drawn["frame_index"], drawn["action"], drawn["action_is_pad"], strict=True
    ):
        rec = recorded[sources[int(e)]]
        real = ~pad.astype(bool)
        want = rec[int(t) : int(t) + CHUNK]
        assert real.sum() == len(want), (e, t)
        np.testing.assert_allclose(chunk[real], want, rtol=0, atol=1e-6, err_msg=f"episode {e} frame {t}")


@pytest.fixture(scope="module")
def joints(real_mix: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("joints")
    results = export_corpus(real_mix, out, action_space="joints", skip_without_action=True)
    rel = _gr1(real_mix).relative_to(real_mix / "datasets").as_posix()
    assert results[rel][0] == "written" and "action joints [26]" in results[rel][1], results
    bridge = [r for r in results if r != rel]
    assert bridge and all(results[r][0] == "error" for r in bridge), results  # no joints in an EEF recording
    return _gr1(real_mix), out / rel


def test_a_joints_export_is_the_recorded_joint_targets(joints: tuple[Path, Path]) -> None:
    dataset, root = joints
    info = json.loads((root / "meta" / "info.json").read_text())["features"]
    spec = JOINT_SPACE["gr1"]
    names = [j.urdf for a in spec.arms for j in (*a.joints, *(a.hand.joints() if a.hand else ()))]
    assert info[ACTION]["shape"] == [26] and info[ACTION]["names"] == names and info[STATE]["names"] == names
    assert info[ACTION]["info"]["from"] == ACTION_NATIVE and info[STATE]["info"]["from"] == STATE_NATIVE
    check_rows(*_exported(root, ACTION), _recorded(dataset, ACTION_NATIVE, "action"))
    check_rows(*_exported(root, STATE), _recorded(dataset, STATE_NATIVE, "state"))


def test_planted_defects_fail(joints: tuple[Path, Path]) -> None:
    """The checks can fail: the rows one frame late, or the right arm's columns where the left's belong."""
    dataset, root = joints
    episodes, frames, values = _exported(root, ACTION)
    recorded = _recorded(dataset, ACTION_NATIVE, "action")
    late = {e: np.concatenate([v[:1], v[:-1]]) for e, v in recorded.items()}
    with pytest.raises(AssertionError):
        check_rows(episodes, frames, values, late)
    swapped = {e: np.concatenate([v[:, 13:], v[:, :13]], axis=1) for e, v in recorded.items()}
    with pytest.raises(AssertionError):
        check_rows(episodes, frames, values, swapped)
    drawn = {"episode_index": episodes[:3], "frame_index": frames[:3], "action_is_pad": np.zeros((3, CHUNK))}
    drawn["action"] = np.stack([recorded[min(recorded)][t + 1 : t + 1 + CHUNK] for t in range(3)])
    with pytest.raises(AssertionError):
        check_chunks(drawn, recorded)  # a chunk that starts at t+1


def test_a_space_an_episode_lacks_is_refused_naming_it(real_mix: Path, tmp_path: Path) -> None:
    with pytest.raises(NoActionInSpace, match=r"manifest mix: 3 episodes have no joints action: .*bridge.*joints"):
        export_corpus(real_mix, tmp_path, manifest=REAL_MIX, action_space="joints")
    argv = ["export", str(real_mix), "--format", "lerobot-v3", "--out", str(tmp_path), "--manifest", REAL_MIX]
    assert main([*argv, "--action-space", "joints"]) == 1 and not (tmp_path / REAL_MIX).exists()


def test_a_manifest_is_one_dataset_or_one_per_robot_as_help_says(
    real_mix: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["export", str(real_mix), "--format", "lerobot-v3", "--manifest", REAL_MIX, "--cameras", "none"]
    # the default: the canonical space, ONE dataset OUT/NAME
    assert main([*argv, "--out", str(tmp_path / "c")]) == 0
    assert json.loads((tmp_path / "c" / REAL_MIX / "meta" / "info.json").read_text())["total_episodes"] == 5
    assert f"1 dataset: {REAL_MIX} (5 episodes, action canonical [50])" in capsys.readouterr().out
    # joints, the robots without any left out by request: one dataset, the rest named
    assert main([*argv, "--out", str(tmp_path / "j"), "--action-space", "joints", "--skip-without-action"]) == 0
    out = capsys.readouterr().out
    assert f"1 dataset: {REAL_MIX} (2 episodes, action joints [26])" in out
    assert "skipped: 3 no joints action" in out and "skipped: none" not in out  # issue 86: `none` after 3 left out
    said = [r.message for r in caplog.records if "left out (--skip-without-action, no joints action)" in r.message]
    assert said and "bridge" in said[0], caplog.text
    notes = json.loads((tmp_path / "j" / REAL_MIX / ".eidata-export.json").read_text())["notes"]
    assert notes[0].startswith("left out (--skip-without-action, no joints action): datasets/oxe/bridge_dataset: 3 ")
    # native: two robots' commands of different widths, which one lerobot dataset cannot hold: one per robot, as
    # --help says, and nothing at OUT/NAME that a script could read as the whole
    assert main([*argv, "--out", str(tmp_path / "n"), "--action-space", "native"]) == 0
    out = capsys.readouterr().out
    assert main([*argv, "--out", str(tmp_path / "c"), "--action-space", "native"]) == 1  # not into an earlier dataset
    assert f"OUT/{REAL_MIX} holds a dataset of an earlier export" in capsys.readouterr().err
    help_text = " ".join(_help())
    assert "one dataset per robot OUT/NAME/<robot> and nothing at OUT/NAME" in help_text
    assert not (tmp_path / "n" / REAL_MIX / "meta").exists()
    written = sorted(p.parent.parent.name for p in (tmp_path / "n" / REAL_MIX).glob("*/meta/info.json"))
    assert written == ["gr1", "widowx"], written
    line = next(x for x in out.splitlines() if x.startswith("2 datasets: "))
    assert f"{REAL_MIX}/gr1 (2 episodes, action native [44])" in line and f"{REAL_MIX}/widowx (3 episodes" in line


def _help() -> list[str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        main(["export", "--help"])
    return buf.getvalue().split()


@pytest.mark.slow  # lerobot-train, 2 steps: about 30 s
@pytest.mark.oracle
def test_lerobot_train_draws_the_recorded_joint_targets(
    joints: tuple[Path, Path], run_oracle_v30, tmp_path: Path
) -> None:
    from tests.jobs.export.lerobot_v3.test_clients import STEPS, TRAIN_ARGS

    dataset, root = joints
    run = run_oracle_v30("train", root, "--out", tmp_path / "runs", "--dump", tmp_path / "drawn", "--", *TRAIN_ARGS)
    got = run[str(root)]
    assert got["ok"], (got.get("error"), got.get("where"))
    assert len(got["losses"]) == STEPS and all(math.isfinite(v) for v in got["losses"]), got
    drawn = dict(np.load(tmp_path / "drawn" / "0.npz"))
    assert drawn["action"].shape[1:] == (CHUNK, 26) and len(drawn["action"]) >= STEPS * 2
    check_chunks(drawn, _recorded(dataset, ACTION_NATIVE, "action"))


def test_a_v21_joints_export_is_the_recorded_joint_targets(real_mix: Path, tmp_path: Path) -> None:
    """`--format lerobot-v21` writes the same plan: the joints, and their episode stats recomputed (not the 44-dim
    native's)."""
    argv = ["export", str(real_mix), "--format", "lerobot-v21", "--out", str(tmp_path), "--manifest", REAL_MIX]
    assert main([*argv, "--action-space", "joints", "--skip-without-action", "--cameras", "none"]) == 0
    root, dataset = tmp_path / REAL_MIX, _gr1(real_mix)
    check_rows(*_exported(root, ACTION), _recorded(dataset, ACTION_NATIVE, "action"))
    stats = [json.loads(line)["stats"][ACTION] for line in (root / "meta" / "episodes_stats.jsonl").open()]
    episodes, _, values = _exported(root, ACTION)
    for e, s in enumerate(stats):
        assert np.allclose(s["max"], values[episodes == e].max(axis=0)) and len(s["max"]) == 26


# Unitree's motor names as its recorder writes them (unitreerobotics/unitree_lerobot utils/constants.py @ 529a0702
# G1_INSPIRE_CONFIG: both arms, then both hands), in the description's order: each side's arm, then its hand
ARM = ("ShoulderPitch", "ShoulderRoll", "ShoulderYaw", "Elbow", "WristRoll", "WristPitch", "WristYaw")
HAND = ("Pinky", "Ring", "Middle", "Index", "ThumbBend", "ThumbRotation")
G1_ORDER = [f"k{s}{j}" for s in ("Left", "Right") for j in (*ARM, *(f"Hand{h}" for h in HAND))]


def test_a_g1_joints_export_reorders_its_recorded_targets_by_name(tmp_path: Path) -> None:
    """A Unitree G1 with Inspire hands in its maker's own LeRobot v2.1 layout (`g1_inspire_v21`: the real
    `meta/info.json`, values drawn in its stats' ranges), matched by motor name, not by position: `action` [26] is
    its recorded targets in the description's order, its left hand where the recording has its right arm."""
    from adapters.registry import get_adapter
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.image_size import ImageSpec
    from tests.fixtures.layouts import load_case, materialize
    from tests.ingest.qa.planted_raw import ingest

    layouts = Path(__file__).resolve().parents[3] / "fixtures" / "lerobot_layouts"
    written = materialize(load_case(layouts / "g1_inspire_v21"), tmp_path / "raw", episodes=2, seconds=3.0)
    corpus, adapter = tmp_path / "corpus", get_adapter("lerobot")
    for ref in adapter.discover(written.root):
        kept, why = ingest(adapter.read(ref), CanonicalizeSpec(image=ImageSpec(size="32x32")), corpus / "datasets/g1/x")
        assert kept, why
    results = export_corpus(corpus, tmp_path / "out", action_space="joints")
    assert results["g1/x"][0] == "written" and "action joints [26]" in results["g1/x"][1], results
    names = json.loads((corpus / "datasets/g1/x/meta/info.json").read_text())["features"][ACTION_NATIVE]["names"]

    def recorded(order: list[str]) -> dict[int, np.ndarray]:
        cols, out = [names.index(f"action.{n}") for n in order], {}
        for f in sorted((corpus / "datasets/g1/x/data").rglob("*.parquet")):
            t = pq.read_table(f, columns=[ACTION_NATIVE, "episode_index"])
            out[int(t["episode_index"][0].as_py())] = np.stack(t[ACTION_NATIVE].to_numpy(zero_copy_only=False))[:, cols]
        return out

    exported = _exported(tmp_path / "out" / "g1/x", ACTION)
    check_rows(*exported, recorded(G1_ORDER))
    with pytest.raises(AssertionError):  # the recording's own order (arms, then hands) is not the description's
        check_rows(*exported, recorded(sorted(G1_ORDER, key=lambda n: "Hand" in n)))
