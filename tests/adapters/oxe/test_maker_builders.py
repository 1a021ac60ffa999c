"""The makers' own TFDS builders run on the makers' own raw data (issue 87 item 4): a real RLDS shard, ingested by the
`oxe` adapter, and eidata's canonical wrist and action compared with the raw rows, frame by frame.

tokyo_u_lsmo: TakaOsa/rlds_dataset_builder@952d7b7 `lsmo_dataset/lsmo_dataset_dataset_builder.py` (real sample
`lsmo_maker_builder`: the package `lsmo_dataset/` and the same commit's `data/<i>/action_<i>.txt`), run unmodified
through `download_and_prepare()` in `.venv-oracle-octo` (`tests/oracle/tfds_maker_build.py`) on the ten raw episodes of
`lsmo_raw_states`. The builder reads `data/train/episode_*.npy`, lists of step dicts (`image`, `state`, `action`,
`language_instruction`, as the template's `create_example_data.py` writes them), which the commit does not hold: each
is written here from `state_cart_joint_gripper_<i>.txt` (the 13 state columns, one row a step) and `action_<i>.txt`
(the 7 action columns). Two inputs are placeholders, not the makers' data, and nothing is compared on them: the
120x120 images (the raw JPEGs are not in the samples: seeded noise stands in) and the instruction (a fixed text);
the builder's tfhub language embedding is a stand-in of the oracle script (zeros). The comparison is on the states
and actions only.

What the raw rows settle, and is checked on every frame of the ten episodes:
- the shard's state and action are the raw rows as float32, bit for bit (the builder copies them);
- eidata's canonical wrist is FK (`J6`, the flange) of the raw joints state[6:12] with J3 + pi/2 (the row's
  `joint_zero`, tests/ingest/kinematics/test_cobotta.py), and equals the raw recorded pose state[:6] (Euler 'zyx')
  after one constant base and one constant tool transform: the row's reason for taking the joints, not the pose;
- eidata's canonical action is that wrist's step to the next frame (position change, R_t^T R_t+1; none at the
  last frame);
- the raw action is the per-step difference of the recorded pose, action[t][:6] = state[t+1][:6] - state[t][:6]
  (zero on the last step), so the row declares those six columns relative (deltas), and eidata's native action
  keeps them as recorded.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.oxe.subsets import SUBSETS, find_subset
from adapters.registry import get_adapter
from ingest.canonical.eef_agreement import fit_residuals
from ingest.frames import rot6d_to_matrix
from ingest.kinematics import load_model
from schemas.canonical import WRIST_POS, WRIST_ROT6D, hand_dims
from tests.fixtures.offline import prepared
from tests.needs import tool_missing
from tests.realdata import REPO, realdata

pytestmark = pytest.mark.oracle

ORACLE_PY = REPO / ".venv-oracle-octo" / "bin" / "python"
LSMO = "tokyo_u_lsmo_converted_externally_to_rlds"
J3_ZERO = np.array([0, 0, np.pi / 2, 0, 0, 0])  # the row's joint_zero: DENSO's J3 at the recorder's zero
EPISODES = 10
PARTS = ("ee_position", "ee_euler_zyx", "joints", "gripper_reading")  # the row's state parts, in order


def _raw_rows() -> list[tuple[np.ndarray, np.ndarray]]:
    """(state (T, 13), action (T, 7)) of the ten raw episodes, float64 as written."""
    states = realdata("lsmo_raw_states")
    maker = realdata("lsmo_maker_builder")
    return [
        (
            np.loadtxt(states / f"state_cart_joint_gripper_{i}.txt"),
            np.loadtxt(maker / "data" / str(i) / f"action_{i}.txt"),
        )
        for i in range(EPISODES)
    ]


def _write_episodes(rows: list[tuple[np.ndarray, np.ndarray]], workdir: Path) -> None:
    """The builder's input, `data/train/episode_<i>.npy`: a list of step dicts, as the template writes it."""
    rng = np.random.default_rng(87)
    (workdir / "data" / "train").mkdir(parents=True)
    for i, (state, action) in enumerate(rows):
        steps = [
            {
                "image": rng.integers(0, 256, (120, 120, 3), dtype=np.uint8),  # placeholder: no raw JPEG here
                "state": s.astype(np.float32),
                "action": a.astype(np.float32),
                "language_instruction": "placeholder instruction",  # placeholder: not in the raw files
            }
            for s, a in zip(state, action, strict=True)
        ]
        np.save(workdir / "data" / "train" / f"episode_{i}.npy", np.array(steps, dtype=object), allow_pickle=True)


@pytest.fixture(scope="module")
def lsmo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[np.ndarray, np.ndarray]]]:
    """The maker's builder run on the raw episodes: (its builder directory, the raw rows)."""
    rows = _raw_rows()
    builder_py = realdata("lsmo_maker_builder/lsmo_dataset/lsmo_dataset_dataset_builder.py")
    if not ORACLE_PY.exists():
        tool_missing("the TFDS oracle environment", "make oracle-octo (.venv-oracle-octo)")
    tmp = tmp_path_factory.mktemp("lsmo_maker")
    _write_episodes(rows, tmp / "work")
    script = REPO / "tests" / "oracle" / "tfds_maker_build.py"
    cmd = [str(ORACLE_PY), str(script), str(builder_py), str(tmp / "work"), str(tmp / "tfds")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the maker's builder failed:\n{proc.stderr[-6000:]}"
    return Path(proc.stdout.strip().splitlines()[-1]), rows


def _match(native_state: np.ndarray, rows: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """The raw episode whose rows, as float32, are this shard episode's state, bit for bit (TFDS shuffles)."""
    [i] = [
        i
        for i, (s, _) in enumerate(rows)
        if s.shape == native_state.shape and np.array_equal(s.astype(np.float32), native_state)
    ]
    return i


def test_the_raw_action_is_the_recorded_poses_step_and_the_row_says_delta() -> None:
    """The makers' raw files: action[t][:6] = state[t+1][:6] - state[t][:6] exactly (float64 text), the last step
    zero, the gripper action 0; the third Euler angle's wrap (episode 0) passes into the action as a 2 pi jump."""
    for state, action in _raw_rows():
        assert action.shape == (len(state), 7)
        np.testing.assert_array_equal(action[:-1, :6], state[1:, :6] - state[:-1, :6])
        assert not action[-1].any() and not action[:, 6].any()
    enc = SUBSETS[LSMO].action_encoding
    assert enc is not None and set(enc.relative) == {"action:ee_xyz", "action:ee_euler"}, enc


def test_eidata_reads_the_makers_shard_as_the_raw_rows(lsmo: tuple[Path, list[tuple[np.ndarray, np.ndarray]]]) -> None:
    builder, rows = lsmo
    assert builder.parent.name == "lsmo_dataset" and (builder / "features.json").is_file()  # the maker's name
    a = get_adapter("oxe")
    refs = list(a.discover(builder))
    assert len(refs) == EPISODES and all(r.error is None for r in refs), refs
    assert {r.subset for r in refs} == {"lsmo_dataset"} and find_subset("lsmo_dataset") is SUBSETS[LSMO]  # an alias
    model = load_model("cobotta")
    seen, errors = set(), {"position_m": 0.0, "rotation": 0.0, "action_position_m": 0.0, "action_rotation": 0.0}
    fit_rot, fit_pos, frames = [], [], 0
    for ref in refs:
        raw = a.read(ref)
        native = np.concatenate([raw.states[f"observation/state:{p}"].values for p in PARTS], axis=1)
        i = _match(native, rows)
        seen.add(i)
        state, action = rows[i]
        cmd = np.concatenate([raw.actions[f"action:{p}"].values for p in ("ee_xyz", "ee_euler", "gripper")], axis=1)
        np.testing.assert_array_equal(cmd, action.astype(np.float32))  # the native action: the raw rows
        [ep] = prepared(raw)
        assert len(ep.timestamps) == len(state)  # 10 Hz in, 10 Hz out: frame t is raw row t
        fk = model.forward(state[:, 6:12] + J3_ZERO, ["J6"])[:, 0]  # float64 raw joints
        pos = ep.state[:, hand_dims(1, WRIST_POS)].astype(np.float64)
        rot = rot6d_to_matrix(ep.state[:, hand_dims(1, WRIST_ROT6D)].astype(np.float64))
        errors["position_m"] = max(errors["position_m"], float(np.abs(pos - fk[:, :3, 3]).max()))
        errors["rotation"] = max(errors["rotation"], float(np.abs(rot - fk[:, :3, :3]).max()))
        # the canonical action: the wrist's step to t+1 (`action_from_state`), position and rotation R_t^T R_t+1
        step_pos = ep.action[:, hand_dims(1, WRIST_POS)].astype(np.float64)
        step_rot = rot6d_to_matrix(ep.action[:, hand_dims(1, WRIST_ROT6D)].astype(np.float64))
        raw_pos = np.diff(fk[:, :3, 3], axis=0, append=fk[-1:, :3, 3])
        nxt = np.minimum(np.arange(len(fk)) + 1, len(fk) - 1)
        raw_rot = np.swapaxes(fk[:, :3, :3], 1, 2) @ fk[nxt, :3, :3]
        errors["action_position_m"] = max(errors["action_position_m"], float(np.abs(step_pos - raw_pos).max()))
        errors["action_rotation"] = max(errors["action_rotation"], float(np.abs(step_rot - raw_rot).max()))
        ours = np.tile(np.eye(4), (len(state), 1, 1))
        ours[:, :3, :3], ours[:, :3, 3] = rot, pos
        recorded = np.tile(np.eye(4), (len(state), 1, 1))
        recorded[:, :3, :3] = Rotation.from_euler("zyx", state[:, 3:6]).as_matrix()
        recorded[:, :3, 3] = state[:, :3]
        r, p = fit_residuals(recorded, ours)
        fit_rot.append(float(r.max()))
        fit_pos.append(float(p.max()))
        frames += len(state)
    assert seen == set(range(EPISODES)) and frames == 2384
    # float32 storage of the joints and of the canonical state (measured: 2.4e-8 m, 1.0e-7; 2.2e-8 m, 1.4e-7)
    assert errors["position_m"] < 1e-7 and errors["rotation"] < 1e-6, errors
    assert errors["action_position_m"] < 1e-7 and errors["action_rotation"] < 1e-6, errors
    # the recorded pose after the constant base and tool transforms, on every frame (measured: 7e-6 deg, 3e-8 m)
    assert max(fit_rot) < 1e-4 and max(fit_pos) < 1e-6, (fit_rot, fit_pos)
    logging.getLogger(__name__).info(
        "max errors over %d frames: %s; fit %.2g deg, %.2g m", frames, errors, max(fit_rot), max(fit_pos)
    )
