"""What the hand makers' own loaders (`tests/oracle/hot3d_hands_oracle.py`, `oakink2_hands_oracle.py`, run under
`.venv-oracle-mano`, `make oracle-mano`) are given by the tests: a MANO model in MANO's own file layout, and a way to
run them.

The model is the synthetic one of `tests/fixtures/mano.py` (the licensed files are absent) written as MANO ships it,
`mano_v1_2/models/MANO_{RIGHT,LEFT}.pkl` (chumpy `Ch` arrays, a scipy csc joint regressor: `write_chumpy_pickle`),
its left one with the official MANO_LEFT's flaw (shape directions' x component the right one's, smplx issue #48), and
its rest wrist moved ~10 cm from the origin as the real MANO_RIGHT's is, so a translation read as smplx's `transl`
and one read as the wrist joint's position land centimetres apart. eidata's npz are converted from those pickles by
`ingest.canonical.mano.convert`, as a user converts the licensed files."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from adapters.base import RawEpisode
from adapters.synthetic.hand import MIRROR
from ingest.canonical.mano.convert import convert
from tests.fixtures.mano import mano_arrays, write_chumpy_pickle
from tests.needs import tool_missing
from tests.realdata import REPO

ORACLE_PY = REPO / ".venv-oracle-mano" / "bin" / "python"
REST_WRIST = np.array([0.0957, 0.0064, 0.0062])  # the real MANO_RIGHT's rest wrist joint, metres


def mano_model(folder: Path) -> tuple[Path, Path]:
    """(MANO's `mano_v1_2` folder holding `models/`, eidata's npz folder) of the synthetic model (module docstring)."""
    root, npz = folder / "mano_v1_2", folder / "npz"
    for made in (root / "models", npz):
        made.mkdir(parents=True, exist_ok=True)
    for side in ("right", "left"):
        arrays = mano_arrays(side, left_shapedirs_bug=True)
        arrays["v_template"] = arrays["v_template"] + REST_WRIST * (MIRROR if side == "left" else 1.0)
        pkl = write_chumpy_pickle(root / "models" / f"MANO_{side.upper()}.pkl", arrays)
        convert(pkl, npz / f"MANO_{side.upper()}.npz")
    return root, npz


def run_oracle(script: str, *args: Any, timeout: float = 300) -> dict[str, np.ndarray]:
    """`tests/oracle/<script>` run with `args` in the oracle environment; the arrays it wrote to its last argument."""
    if not ORACLE_PY.exists():
        tool_missing("the hand makers' oracle environment", "make oracle-mano (.venv-oracle-mano)")
    cmd = [str(ORACLE_PY), str(REPO / "tests" / "oracle" / script), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    with np.load(args[-1]) as z:
        return {k: z[k] for k in z.files}


def planted(raw: RawEpisode, **convention: object) -> RawEpisode:
    """`raw` with fields of each MANO hand's `ManoConvention` replaced: a wrong reading, planted."""
    hands = {}
    for h, t in raw.hands.hands.items():
        assert t.mano is not None
        mano = dataclasses.replace(t.mano, convention=dataclasses.replace(t.mano.convention, **convention))
        hands[h] = dataclasses.replace(t, mano=mano)
    return dataclasses.replace(raw, hands=dataclasses.replace(raw.hands, hands=hands))
