"""The MANO makers' own loaders (`tests/oracle/mano/`, run in `.venv-oracle-mano`, `make oracle-mano`) from the tests:
the MANO model both sides are given, in MANO's own file layout, the maker's keypoints, and eidata's from the same
files, as canonicalization makes them (`ingest.canonical.mano.evaluate.mano_hands`)."""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from adapters.base import RawEpisode
from adapters.registry import get_adapter
from adapters.synthetic.hand import MIRROR
from ingest.canonical.mano.convert import convert
from ingest.canonical.mano.evaluate import mano_hands
from tests.fixtures.mano import mano_arrays
from tests.needs import tool_missing
from tests.realdata import REPO

ORACLE_PY = REPO / ".venv-oracle-mano" / "bin" / "python"
RUN = REPO / "tests" / "oracle" / "mano" / "run.py"
# The real MANO_RIGHT's rest wrist joint lies ~10 cm from the model's origin: the test model's is moved there, so a
# translation read as smplx's `transl` and one read as the wrist joint's position land centimetres apart.
REST_WRIST = np.array([0.0957, 0.0064, 0.0062])
MM = 1e-3
SIDES = ("left", "right")  # `HandSignals.hands` index 0, 1


def oracle_python() -> Path:
    if not ORACLE_PY.exists():
        tool_missing("the MANO makers' oracle environment", "make oracle-mano (.venv-oracle-mano: smplx, chumpy)")
    return ORACLE_PY


def oracle(maker: str, *args: Any, timeout: float = 300) -> None:
    """`tests/oracle/mano/<maker>.py`'s `run(*args)` in the oracle environment; its output named in a failure."""
    cmd = [str(oracle_python()), str(RUN), maker, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=RUN.parent)
    assert proc.returncode == 0, f"{maker}'s own code failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"


def run_maker(maker: str, *args: Any) -> dict[str, np.ndarray]:
    """The arrays `tests/oracle/mano/<maker>.py` writes to its last argument, an `.npz`."""
    oracle(maker, *args)
    with np.load(args[-1]) as z:
        return {k: z[k] for k in z.files}


@cache
def maker_model() -> tuple[Path, Path]:
    """(pickles, npz), made once per test process in a folder of its own: `MANO_RIGHT.pkl` / `MANO_LEFT.pkl` in
    MANO's own layout (`tests/oracle/mano/model.py`, real chumpy), for the makers' code, and eidata's npz converted
    from them by `ingest.canonical.mano.convert`, as a user converts the licensed files. The synthetic model of
    `tests/fixtures/mano.py` moved to `REST_WRIST`, its left one with the official MANO_LEFT's flaw (its shape
    directions' x component the right one's, smplx issue #48)."""
    folder = Path(tempfile.mkdtemp(prefix="eidata-maker-mano-"))
    atexit.register(shutil.rmtree, folder, True)
    pkl, npz = folder / "pkl", folder / "npz"
    pkl.mkdir(parents=True, exist_ok=True)
    npz.mkdir(parents=True, exist_ok=True)
    for side in ("right", "left"):
        arrays = mano_arrays(side, left_shapedirs_bug=True)
        arrays["v_template"] = arrays["v_template"] + REST_WRIST * (MIRROR if side == "left" else 1.0)
        plain = folder / f"{side}_arrays.npz"
        np.savez(plain, **arrays)
        name = f"MANO_{side.upper()}"
        oracle("model", plain, pkl / f"{name}.pkl")
        convert(pkl / f"{name}.pkl", npz / f"{name}.npz")
    return pkl, npz


def eidata_keypoints(raw: RawEpisode, **convention: Any) -> dict[str, np.ndarray]:
    """Each MANO hand's (T,21,3) keypoints as canonicalization evaluates them, in its wrist stream's frame (a hand
    carried by `frame_pose` is given back in the frame it was fitted in); a track's given keypoints are set aside so
    the MANO ones are made. `convention` replaces fields of each hand's `ManoConvention` (a planted defect)."""
    hands = {}
    for h, track in raw.hands.hands.items():
        if track.mano is None:
            continue
        mano = dataclasses.replace(track.mano, frame_pose=None)
        if convention:
            mano = dataclasses.replace(mano, convention=dataclasses.replace(mano.convention, **convention))
        hands[h] = dataclasses.replace(track, keypoints=None, mano=mano)
    evaluated = mano_hands(dataclasses.replace(raw, hands=dataclasses.replace(raw.hands, hands=hands)))
    return {SIDES[h]: t.keypoints.values for h, t in evaluated.hands.items() if t.keypoints is not None}


def read_source(source: str, root: Path) -> RawEpisode:
    """The one episode under `root` as the `source` adapter reads it, on the makers' model converted to npz."""
    adapter = get_adapter(source, {"mano_model_dir": str(maker_model()[1])})
    (ref,) = adapter.discover(root)
    return adapter.read(ref)


def assert_within_mm(ours: np.ndarray, theirs: np.ndarray, label: str, limit: float = 1.0) -> float:
    """Every frame's 21 keypoints of ours within `limit` mm of the maker's; returns the worst distance, in mm."""
    assert np.shape(ours) == np.shape(theirs), f"{label}: {np.shape(ours)} keypoints, the maker's {np.shape(theirs)}"
    worst = max_mm(ours, theirs)
    bad = np.flatnonzero(~(worst < limit))
    assert not bad.size, f"{label}: frames {bad[:10].tolist()} beyond {limit} mm, worst {np.nanmax(worst):.3f} mm"
    return float(worst.max())


def max_mm(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Per frame, the largest keypoint distance in millimetres."""
    return np.linalg.norm(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64), axis=-1).max(axis=-1) / MM
