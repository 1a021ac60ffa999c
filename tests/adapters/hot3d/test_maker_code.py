"""HOT3D's hands as HOT3D's own code makes them: facebookresearch/hot3d@e814021 `hot3d/data_loaders/` (the
`hot3d_maker_code` sample), run on the real Aria and Quest 3 sequences of `hot3d_data_sample` in `.venv-oracle-mano`
(`tests/oracle/hot3d_hands_oracle.py`). Every landmark HOT3D gives, in every frame, left and right hands, equals the
keypoint eidata makes of the same files within 1 mm:

- UmeTrack: the real joint angles, wrist poses and hand profile (all real bytes) through `UmeTrackHandDataProvider`.
- MANO: the real PCA poses, betas and wrist poses through `MANOHandDataProvider` and `MANOHandModel` (smplx), on a
  synthetic MANO model in MANO's own layout (`tests/oracle/fixture_hand_makers.py`: the licensed one is absent); its
  thumb1, which HOT3D's landmark mapping leaves out, from the same model without the mapping.

A wrong reading misses them (planted): manopth's fingertips, a flat hand mean, no repair of MANO_LEFT's shape flaw, the
translation taken as the wrist joint, a right hand not mirrored onto the left-hand UmeTrack profile; and per-row betas
where HOT3D gives the whole sequence the file's first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import RawEpisode
from adapters.hot3d import adapter as hot3d_adapter
from adapters.registry import get_adapter
from ingest.canonical.mano.evaluate import mano_hands
from schemas.canonical import MANO21_NAMES
from tests.oracle.fixture_hand_makers import mano_model, planted, run_oracle
from tests.realdata import realdata

SEQUENCES = ("P0003_c701bd11", "P0002_273c2819")  # Aria, Quest 3
SIDES = ("left", "right")
MM = 1e-3
FINGER_JOINTS = {"proximal": "1", "intermediate": "2", "distal": "3"}


def mano21_name(landmark: str) -> str | None:
    """HOT3D's landmark name (`hand_common.LANDMARK`) as a MANO-21 keypoint, as HOT3D's own `mano_joint_mapping`
    (`mano_layer.py`) pairs them: "Thumb intermediate frame" is MANO's thumb2, "Index proximal frame" index1, a
    fingertip the tip, "Wrist joint" the wrist; the palm centre has none."""
    words = landmark.lower().split()
    if words[-1] == "fingertip":
        return f"{words[0]}_tip"
    if landmark == "Wrist joint":
        return "wrist"
    if words[0] == "thumb":
        return {"intermediate": "thumb2", "distal": "thumb3"}.get(words[1])
    return f"{words[0]}{FINGER_JOINTS[words[1]]}" if words[1] in FINGER_JOINTS else None


def maker_code() -> Path:
    return realdata("hot3d_maker_code/data_loaders/UmeTrackHandDataProvider.py").parent.parent


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return mano_model(tmp_path_factory.mktemp("mano"))


def theirs(seq: Path, model: tuple[Path, Path], out: Path) -> dict[str, np.ndarray]:
    return run_oracle("hot3d_hands_oracle.py", maker_code(), seq, model[0] / "models", out)


@pytest.fixture(scope="module")
def real_runs(model, tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """HOT3D's landmarks of each real sequence, run once (a subprocess importing torch: seconds)."""
    return {}


def real(name: str, model: tuple[Path, Path], runs: dict, tmp: pytest.TempPathFactory) -> tuple[Path, dict]:
    seq = realdata(f"hot3d_data_sample/{name}")
    if name not in runs:
        runs[name] = theirs(seq, model, tmp.mktemp("out") / "hot3d.npz")
    return seq, runs[name]


@pytest.fixture(params=SEQUENCES)
def case(request, model, real_runs, tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    return real(request.param, model, real_runs, tmp_path_factory)


def read(seq: Path, **options: object) -> RawEpisode:
    adapter = get_adapter("hot3d", options)
    (ref,) = [r for r in adapter.discover(seq.parent) if r.raw_id == seq.name]
    return adapter.read(ref)


def keypoints(raw: RawEpisode) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """side -> (timestamps ns, (T,21,3) keypoints) as canonicalization evaluates them."""
    t0 = raw.metadata["start_timestamp_ns"]
    out = {}
    for h, track in mano_hands(raw).hands.items():
        assert track.keypoints is not None
        ns = np.round(track.keypoints.timestamps * 1e9).astype(np.int64) + t0
        out[SIDES[h]] = (ns, track.keypoints.values)
    return out


def gaps(ours: dict, them: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
    """side -> (T, points) distances between eidata's keypoints and each landmark HOT3D names, in metres."""
    names = [mano21_name(str(n)) for n in them["landmark_names"]]
    out = {}
    for side in SIDES:
        ns, kp = ours[side]
        np.testing.assert_array_equal(ns, them[f"{kind}_{side}_t"])  # the same frames, every one
        lm = them[f"{kind}_{side}_landmarks"]
        cols = [(MANO21_NAMES.index(n), i) for i, n in enumerate(names[: lm.shape[1]]) if n is not None]
        d = [np.linalg.norm(kp[:, k] - lm[:, i], axis=-1) for k, i in cols]
        if kind == "mano":  # thumb1 (MANO joint 13), from the unmapped model
            thumb1 = them[f"mano_unmapped_{side}_landmarks"][:, 13]
            d.append(np.linalg.norm(kp[:, MANO21_NAMES.index("thumb1")] - thumb1, axis=-1))
        out[side] = np.stack(d, axis=1)
    return out


def worst(d: dict[str, np.ndarray]) -> float:
    return max(float(v.max()) for v in d.values())


def test_umetrack_landmarks_are_hot3ds_own(case) -> None:
    seq, them = case
    d = gaps(keypoints(read(seq, hands_from="umetrack")), them, "umetrack")
    print(f"{seq.name} UmeTrack: {[v.shape for v in d.values()]} frames x landmarks, largest {worst(d) / MM:.5f} mm")
    assert all(v.shape[1] == 20 for v in d.values()) and worst(d) < 1 * MM


def test_mano_landmarks_are_hot3ds_own(case, model) -> None:
    seq, them = case
    d = gaps(keypoints(read(seq, hands_from="mano", mano_model_dir=str(model[1]))), them, "mano")
    print(f"{seq.name} MANO: {[v.shape for v in d.values()]} frames x landmarks, largest {worst(d) / MM:.5f} mm")
    assert all(v.shape[1] == 21 for v in d.values()) and worst(d) < 1 * MM


def test_a_wrong_reading_misses_hot3ds_own(model, real_runs, tmp_path_factory, monkeypatch) -> None:
    seq, them = real(SEQUENCES[0], model, real_runs, tmp_path_factory)
    raw = read(seq, hands_from="mano", mano_model_dir=str(model[1]))
    manopth = read(seq, hands_from="mano", mano_tips="manopth", mano_model_dir=str(model[1]))
    misses = {"manopth's fingertips": worst(gaps(keypoints(manopth), them, "mano"))}
    for what, conv in {
        "a flat hand mean": {"flat_hand_mean": True},
        "MANO_LEFT's flaw kept": {"fix_left_shapedirs": False},
        "the translation as the wrist joint": {"wrist_at": "joint"},
    }.items():
        misses[what] = worst(gaps(keypoints(planted(raw, **conv)), them, "mano"))
    monkeypatch.setattr(hot3d_adapter, "mirror_right", lambda wrist: wrist)
    misses["the right hand not mirrored"] = worst(gaps(keypoints(read(seq, hands_from="umetrack")), them, "umetrack"))
    print({k: f"{v / MM:.1f} mm" for k, v in misses.items()})
    assert all(v > 1 * MM for v in misses.values()), misses


def test_one_shape_for_the_whole_sequence(model, tmp_path: Path) -> None:
    """HOT3D gives both hands of every row the file's first betas (`load_mano_shape_params`); a file whose later rows
    carry other betas is read the same way."""
    seq = tmp_path / SEQUENCES[0]
    shutil.copytree(realdata(f"hot3d_data_sample/{SEQUENCES[0]}"), seq)
    path = seq / "mano_hand_pose_trajectory.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for i, row in enumerate(rows[10:], start=10):
        for hand in row["hand_poses"].values():
            hand["betas"] = [b + 0.5 * (i % 3) for b in hand["betas"]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ours = keypoints(read(seq, hands_from="mano", mano_model_dir=str(model[1])))
    d = gaps(ours, theirs(seq, model, tmp_path / "o.npz"), "mano")
    print(f"betas changed on rows 10-: largest {worst(d) / MM:.5f} mm")
    assert worst(d) < 1 * MM
