"""ARCTIC's raw files read as the maker's `construct_loader` reads them: the four `.npy` of a sequence checked for one
frame count, `shape` as one (10,) or per-frame rows, the body's up from SMPL-X's `global_orient`, a subject's
`misc.json` entry, and each bad file named with its field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.arctic.adapter import body_up, read_sequence, read_subject
from adapters.pickles import unpickle_npy
from adapters.storage.location import locate
from tests.fixtures.writers.arctic import ArcticSeqSpec, write_arctic


class Bad(Exception):
    def __init__(self, message: str, field: str, file: Path) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.field, self.file = field, file


def _data(tmp: Path) -> Path:
    return write_arctic(tmp / "data", [ArcticSeqSpec(frames=12)])


def test_a_sequence_reads_with_its_camera_and_object(tmp_path: Path) -> None:
    data = _data(tmp_path)
    seq = read_sequence(locate(data / "raw_seqs/s01/box_grab_01"), Bad)
    assert len(seq) == 12 and seq.object_params.shape == (12, 7) and seq.dist8.shape == (8,)
    ego = unpickle_npy((data / "raw_seqs/s01/box_grab_01.egocam.dist.npy").read_bytes())
    np.testing.assert_allclose(seq.world2ego[:, :3, :3], ego["R_k_cam_np"])
    np.testing.assert_allclose(seq.world2ego[:, :3, 3], ego["T_k_cam_np"][..., 0])
    np.testing.assert_allclose(seq.body_up, [0, 0, 1], atol=1e-9)  # the writer's upright body in a Z-up world


def test_per_frame_shape_rows_are_one_shape(tmp_path: Path) -> None:
    data = _data(tmp_path)
    path = data / "raw_seqs/s01/box_grab_01.mano.npy"
    d = unpickle_npy(path.read_bytes())
    d["left"]["shape"] = np.tile(np.arange(10.0), (12, 1))  # `frames x 10` as data_doc.md words it
    np.save(path, np.array(d, dtype=object), allow_pickle=True)
    np.testing.assert_allclose(
        read_sequence(locate(path.parent / "box_grab_01"), Bad).hands["left"].shape, np.arange(10.0)
    )


def test_body_up_is_smplx_plus_y_turned() -> None:
    tilt = Rotation.from_euler("x", 90, degrees=True).as_rotvec()  # the template's +y onto +z
    np.testing.assert_allclose(body_up(np.tile(tilt, (5, 1))), [0, 0, 1], atol=1e-12)


def test_a_missing_subject_and_a_bad_field_are_named(tmp_path: Path) -> None:
    data = _data(tmp_path)
    assert read_subject(locate(data / "meta/misc.json"), "s01", Bad).ioi_offset == 1
    with pytest.raises(Bad) as e:
        read_subject(locate(data / "meta/misc.json"), "s09", Bad)
    assert e.value.field == "misc.s09"
    path = data / "raw_seqs/s01/box_grab_01.egocam.dist.npy"
    d = unpickle_npy(path.read_bytes())
    d["intrinsics"] = np.eye(2)
    np.save(path, np.array(d, dtype=object), allow_pickle=True)
    with pytest.raises(Bad) as e:
        read_sequence(locate(data / "raw_seqs/s01/box_grab_01"), Bad)
    assert e.value.field == "intrinsics" and e.value.file == path
