"""The MANO pickle converter: the official chumpy pickles become plain-array npz files without chumpy installed and
without running pickled code; hostile pickles are refused naming the callable; the command line says so."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.canonical.mano.convert import MANOModelError, SafeUnpickler, UnsafePickleError, convert, validate_model
from ingest.canonical.mano.model import ManoHand
from tests.fixtures.mano import mano_arrays, write_chumpy_pickle, write_hostile_pickle, write_mano_npz

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mano")
    write_mano_npz(folder)
    return folder


def _load(folder: Path) -> ManoHand:
    return ManoHand.load(folder, "right", dtype="float64")


@pytest.mark.parametrize("protocol", [0, 2])
def test_converter_round_trip_without_chumpy(model_dir: Path, tmp_path: Path, protocol: int) -> None:
    src = write_chumpy_pickle(tmp_path / "MANO_RIGHT.pkl", mano_arrays("right"), protocol=protocol)
    assert b"chumpy.ch" in src.read_bytes() and b"scipy.sparse" in src.read_bytes()
    assert importlib.util.find_spec("chumpy") is None and "chumpy" not in sys.modules
    out = convert(src, tmp_path / "npz" / "MANO_RIGHT.npz")
    with np.load(out, allow_pickle=False) as npz:
        assert set(npz.files) == set(validate_model(mano_arrays("right")))
        assert npz["kintree_table"][0, 0] == -1 and npz["J_regressor"].shape == (16, 778)
    rng = np.random.default_rng(9)
    go, hp, betas, transl = (rng.normal(size=(8, k)) for k in (3, 45, 10, 3))
    np.testing.assert_allclose(
        _load(out.parent).keypoints(go, hp, betas, transl), _load(model_dir).keypoints(go, hp, betas, transl), atol=0
    )


@pytest.mark.parametrize(
    ("how", "culprit"), [("os.system", "posix.system"), ("eval", "builtins.eval"), ("nested", "posix.system")]
)
def test_converter_refuses_hostile_pickles(tmp_path: Path, how: str, culprit: str) -> None:
    marker = tmp_path / "pwned"
    src = write_hostile_pickle(tmp_path / "MANO_RIGHT.pkl", marker, how)
    with pytest.raises(UnsafePickleError, match=culprit):
        convert(src, tmp_path / "MANO_RIGHT.npz")
    assert not marker.exists() and not (tmp_path / "MANO_RIGHT.npz").exists()


def test_converter_allow_list_and_chumpy_expressions() -> None:
    unpickler = SafeUnpickler.__new__(SafeUnpickler)
    assert unpickler.find_class("numpy.core.multiarray", "_reconstruct") is not None  # numpy 1.x pickles
    assert unpickler.find_class("copy_reg", "_reconstructor") is not None  # Python 2 name
    for module, name in [("subprocess", "Popen"), ("numpy", "load"), ("builtins", "getattr"), ("scipy.io", "loadmat")]:
        with pytest.raises(UnsafePickleError, match=f"{module}.{name}"):
            unpickler.find_class(module, name)
    derived = unpickler.find_class("chumpy.ch_ops", "add")()  # an expression pickles operands, not its value
    derived.__setstate__({"a": np.zeros(3), "b": np.ones(3)})
    with pytest.raises(MANOModelError, match=r"chumpy\.ch_ops\.add"):
        validate_model({**mano_arrays(), "shapedirs": derived})


def test_converter_command_line(tmp_path: Path) -> None:
    src = write_chumpy_pickle(tmp_path / "MANO_LEFT.pkl", mano_arrays("left"))
    run = [sys.executable, "-m", "ingest.canonical.mano.convert"]
    ok = subprocess.run([*run, src, tmp_path / "MANO_LEFT.npz"], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "MANO_LEFT.npz").is_file()
    hostile = write_hostile_pickle(tmp_path / "evil.pkl", tmp_path / "pwned")
    bad = subprocess.run([*run, hostile, tmp_path / "evil.npz"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 1 and "refusing" in bad.stderr and not (tmp_path / "pwned").exists()
