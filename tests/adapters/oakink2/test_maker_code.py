"""OakInk2's hands as OakInk2's own code makes them: its toolkit (oakink/OakInk2@63365c6 `src/oakink2_toolkit/`,
`OakInk2__Dataset.instantiate_complex_task`: the annotation pickle loaded and each side's `raw_mano` collected over
the mocap frames) and manotorch at the commit OakInk2 pins (lixiny/manotorch@933be97, `ManoLayer(rot_mode="quat",
center_idx=0, use_pca=False, flat_hand_mean=True)`, joints + `tsl`, as the maker's viewer `seg_3d.py` poses them),
both from the `oakink2_maker_code` sample, run in `.venv-oracle-mano` (`tests/oracle/oakink2_hands_oracle.py`).

No public OakInk2 annotation is small enough to hold here, so the sequence is written in the maker's layout by
`tests.fixtures.writers.oakink2` (its hands torch tensors pickled by torch), and the MANO model is the synthetic one in
MANO's own layout (`tests/oracle/fixture_hand_makers.py`, its left one with the official MANO_LEFT's shape flaw).
Every keypoint, every mocap frame, left and right hands, equals manotorch's within 1 mm; a wrong reading misses them
(planted): MANO_LEFT's flaw repaired (manotorch does not repair it), smplx's mean pose added, the translation taken as
smplx's `transl`, smplx's fingertips."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import RawEpisode
from adapters.registry import get_adapter
from ingest.canonical.mano.evaluate import mano_hands
from tests.fixtures.writers.oakink2 import OakInk2SequenceSpec, write_oakink2
from tests.oracle.fixture_hand_makers import mano_model, planted, run_oracle
from tests.realdata import realdata

SPEC = OakInk2SequenceSpec(frames=120)
SIDES = ("left", "right")
MM = 1e-3


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[RawEpisode, dict[str, np.ndarray]]:
    maker = realdata("oakink2_maker_code/oakink2_toolkit/dataset.py").parent.parent
    base = tmp_path_factory.mktemp("oakink2")
    mano_root, npz = mano_model(base / "mano")
    root = write_oakink2(base / "OakInk2", [SPEC])
    them = run_oracle("oakink2_hands_oracle.py", maker, root, SPEC.token, mano_root, base / "oakink2.npz")
    adapter = get_adapter("oakink2", {"mano_model_dir": str(npz)})
    (ref,) = adapter.discover(root)
    return adapter.read(ref), them


def gap(raw: RawEpisode, them: dict[str, np.ndarray]) -> dict[str, float]:
    """side -> the largest distance (m) between eidata's keypoints and manotorch's joints, over frames and joints."""
    np.testing.assert_array_equal(np.asarray(raw.metadata["mocap_frames"]), them["mocap"][[0, -1]])
    out = {}
    for h, track in mano_hands(raw).hands.items():
        assert track.keypoints is not None
        kp, joints = track.keypoints.values, them[f"{SIDES[h]}_joints"]
        assert kp.shape == joints.shape == (SPEC.frames, 21, 3)
        out[SIDES[h]] = float(np.linalg.norm(kp - joints, axis=-1).max())
    return out


def test_keypoints_are_oakink2s_own(case) -> None:
    raw, them = case
    d = gap(raw, them)
    print({side: f"{v / MM:.5f} mm" for side, v in d.items()})
    assert sorted(d) == list(SIDES) and max(d.values()) < 1 * MM


@pytest.mark.parametrize(
    ("convention", "missed"),
    [
        ({"fix_left_shapedirs": True}, ("left",)),
        ({"flat_hand_mean": False}, SIDES),
        ({"wrist_at": "transl"}, SIDES),
        ({"tips": "smplx"}, SIDES),
    ],
)
def test_a_wrong_reading_misses_oakink2s_own(case, convention: dict, missed: tuple[str, ...]) -> None:
    raw, them = case
    d = gap(planted(raw, **convention), them)
    print(convention, {side: f"{v / MM:.1f} mm" for side, v in d.items()})
    assert all(d[side] > 1 * MM for side in missed)
