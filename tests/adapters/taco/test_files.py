"""TACO's files read as the maker's loaders read them: hand pickles of torch tensors (with `requires_grad`) through a
restricted unpickler, frames in sorted key order, zeros for a missing shape file (said), plain `.npy` poses, the
intrinsic text file, the allocentric calibration, the triplet's words; anything else a pickle names is refused."""

from __future__ import annotations

import io
import json
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from adapters.storage.location import locate
from adapters.taco.adapter import read_calibration, read_hand, read_intrinsic, triplet_words, unpickle


class Bad(Exception):
    def __init__(self, message: str, field: str, file: Path) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.field, self.file = field, file


def _hand(folder: Path, keys: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frames = {
        k: {"hand_pose": torch.full((48,), float(k), requires_grad=True), "hand_trans": torch.ones(3)} for k in keys
    }
    (folder / "right_hand.pkl").write_bytes(pickle.dumps(frames))


def test_hand_frames_in_sorted_key_order_and_the_shape_file(tmp_path: Path) -> None:
    _hand(tmp_path, ["00002", "00000", "00001"])
    hand = read_hand(locate(tmp_path), "right", Bad)
    assert hand.frames == ("00000", "00001", "00002") and hand.pose[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert hand.beta_from.startswith("no right_hand_shape.pkl") and not hand.beta.any()
    (tmp_path / "right_hand_shape.pkl").write_bytes(pickle.dumps({"hand_shape": torch.arange(10.0).reshape(1, 10)}))
    assert read_hand(locate(tmp_path), "right", Bad).beta.tolist() == list(range(10))


def test_a_pickle_naming_anything_but_tensors_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple:
            return os.system, (f"touch {marker}",)

    (tmp_path / "x.pkl").write_bytes(pickle.dumps({"a": Evil()}))
    with pytest.raises(Bad, match="refusing to unpickle global"):
        unpickle(locate(tmp_path / "x.pkl"), Bad, "x")
    assert not marker.exists()
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps({"p": torch.nn.Parameter(torch.ones(2)), "n": np.arange(3)}))
    got = unpickle(locate(tmp_path / "ok.pkl"), Bad, "ok")
    assert got["p"].tolist() == [1.0, 1.0] and got["n"].tolist() == [0, 1, 2]


def test_intrinsic_calibration_and_triplet(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "egocentric_intrinsic.txt", np.array([[900, 0, 960], [0, 900, 540], [0, 0, 1.0]]))
    assert read_intrinsic(locate(tmp_path / "egocentric_intrinsic.txt"), Bad)[0, 2] == 960
    calib = {"22139908": {"K": np.eye(3).ravel().tolist(), "R": np.eye(3).ravel().tolist(), "T": [0, 0, 2.0]}}
    (tmp_path / "calibration.json").write_text(json.dumps(calib))
    cam = read_calibration(locate(tmp_path / "calibration.json"), Bad)["22139908"]
    np.testing.assert_allclose(cam.world_from_camera[:3, 3], [0, 0, -2.0])  # the inverse of world-to-camera
    assert triplet_words("(stir, spoon, bowl)") == ("stir", "spoon", "bowl") and triplet_words("stir") is None
    with pytest.raises(Bad) as e:
        read_intrinsic(locate(tmp_path / "none.txt"), Bad)
    assert e.value.field == "egocentric_intrinsic"


def test_a_storage_saved_from_a_gpu_and_a_view_at_an_offset_read_on_the_cpu(tmp_path: Path) -> None:
    """TACO's tensors may have been saved from CUDA (the location is inside the storage's legacy `torch.save` bytes)
    and be views of one storage holding every frame: both read here, on a machine without a GPU."""
    from collections import OrderedDict

    all_frames = torch.arange(96, dtype=torch.float32).reshape(2, 48)
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a typed storage, as torch 1.x (TACO's 1.11) pickles a tensor's
        warnings.simplefilter("ignore", UserWarning)
        torch.save(all_frames.storage(), buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    assert raw.count(b"X\x03\x00\x00\x00cpu") == 1
    cuda = raw.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")

    class Storage:
        def __reduce__(self) -> tuple:
            return torch.storage._load_from_bytes, (cuda,)

    class Frame1:  # frame 1 of the (2, 48) storage, as torch pickles a view
        def __reduce__(self) -> tuple:
            return torch._utils._rebuild_tensor_v2, (Storage(), 48, (48,), (1,), False, OrderedDict())

    (tmp_path / "right_hand.pkl").write_bytes(
        pickle.dumps({"00001": {"hand_pose": Frame1(), "hand_trans": np.ones(3)}})
    )
    hand = read_hand(locate(tmp_path), "right", Bad)
    assert hand.pose[0].tolist() == list(range(48, 96))


def test_a_storage_pickled_with_every_frame_is_loaded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each frame a view of one (T, 48) storage, as the maker's files hold them: the storage's bytes recur in every
    frame's pickle and are loaded once (300 frames: 1.5-3.8 s a sequence before, 0.25 s with the cache)."""
    import adapters.torch_tensors as tensors

    calls = []
    real = tensors.load_storage_bytes
    monkeypatch.setattr(tensors, "load_storage_bytes", lambda data: calls.append(len(data)) or real(data))
    poses, trans = torch.arange(20 * 48, dtype=torch.float32).reshape(20, 48), torch.zeros(20, 3)
    frames = {f"{i:05d}": {"hand_pose": poses[i], "hand_trans": trans[i]} for i in range(20)}
    (tmp_path / "right_hand.pkl").write_bytes(pickle.dumps(frames))
    hand = read_hand(locate(tmp_path), "right", Bad)
    assert len(calls) == 2  # the pose storage and the translation storage, once each
    np.testing.assert_array_equal(hand.pose, poses.numpy())
