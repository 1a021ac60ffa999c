"""One-time conversion of a licensed MANO pickle to a plain-numpy `.npz`, without chumpy and without trusting it.

The official `MANO_RIGHT.pkl` / `MANO_LEFT.pkl` hold chumpy `Ch` objects (chumpy does not import on Python 3.11 /
numpy 2) and a `scipy.sparse` joint regressor. Convert each once, then point
`ingest.canonical.mano.model.ManoHand.load` at the folder:

    python -m ingest.canonical.mano.convert /path/to/mano_v1_2/models/MANO_RIGHT.pkl models/MANO_RIGHT.npz
    python -m ingest.canonical.mano.convert /path/to/mano_v1_2/models/MANO_LEFT.pkl models/MANO_LEFT.npz

Safety: the pickle is read by `SafeUnpickler`, whose `find_class` resolves only an allow-list (numpy's array
reconstructors, a few inert builtins, `copyreg._reconstructor`, `_codecs.encode`); chumpy and scipy.sparse classes
become inert stubs that only keep their pickled state. Any other global (`os.system`, `builtins.eval`, ...) raises
`UnsafePickleError` naming it before anything is called. The `.npz` holds plain arrays only and is read back with
`allow_pickle=False`.
"""

from __future__ import annotations

import argparse
import importlib
import io
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.storage.atomic import atomic_write

# Keys smplx's MANO reads, with their expected shapes (None = any size); V vertices, J = 16 joints.
NUM_VERTICES, NUM_JOINTS = 778, 16
MODEL_SHAPES: dict[str, tuple[int | None, ...]] = {
    "v_template": (NUM_VERTICES, 3),
    "shapedirs": (NUM_VERTICES, 3, None),
    "posedirs": (NUM_VERTICES, 3, (NUM_JOINTS - 1) * 9),
    "J_regressor": (NUM_JOINTS, NUM_VERTICES),
    "weights": (NUM_VERTICES, NUM_JOINTS),
    "kintree_table": (2, NUM_JOINTS),
    "f": (None, 3),
    "hands_components": (None, (NUM_JOINTS - 1) * 3),
    "hands_mean": ((NUM_JOINTS - 1) * 3,),
}
MODEL_KEYS = tuple(MODEL_SHAPES)
_INT_KEYS = ("kintree_table", "f")


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global outside the allow-list; nothing it names was imported or called."""


class MANOModelError(ValueError):
    """A MANO model file lacks a key smplx needs, or an array has the wrong shape."""


class _StateStub:
    """Stands in for a foreign class: NEWOBJ/`_reconstructor` build an empty instance, BUILD hands it the state."""

    origin: ClassVar[str] = "?"

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ChumpyStub(_StateStub):
    """A chumpy `Ch`: its pickled `__dict__` carries the value under `x` (plain `Ch`)."""

    def to_array(self) -> np.ndarray:
        state = getattr(self, "state", None)
        if isinstance(state, dict):
            for key in ("x", "_x"):
                if key in state:
                    return _to_array(state[key], self.origin)
        # Derived chumpy expressions (ch_ops, reordering) pickle their operands, not their value: refuse, don't guess.
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise MANOModelError(f"{self.origin}: no array value in its pickled state (keys {keys})")


class _SparseStub(_StateStub):
    """A scipy.sparse matrix rebuilt from its pickled arrays (stable across scipy versions, unlike private attrs)."""

    def to_array(self) -> np.ndarray:
        import scipy.sparse as sp

        s = self.state if isinstance(getattr(self, "state", None), dict) else {}
        shape = tuple(s.get("_shape", s.get("shape", ())))
        kind = self.origin.rsplit(".", 1)[-1]
        try:
            if kind in ("csc_matrix", "csr_matrix"):
                cls = sp.csc_matrix if kind == "csc_matrix" else sp.csr_matrix
                return cls((s["data"], s["indices"], s["indptr"]), shape=shape).toarray()
            coords = s["coords"] if "coords" in s else (s["row"], s["col"])
            return sp.coo_matrix((s["data"], tuple(coords)), shape=shape).toarray()
        except (KeyError, ValueError, TypeError) as e:
            raise MANOModelError(f"{self.origin}: unreadable sparse state ({e!r})") from e


_SPARSE_CLASSES = ("csc_matrix", "csr_matrix", "coo_matrix")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    multiarray = importlib.import_module("numpy._core.multiarray")
    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x and 2.x pickles
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = multiarray.scalar
    allowed |= {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "dtype"): np.dtype,
        ("numpy._core.multiarray", "dtype"): np.dtype,
        ("builtins", "object"): object,  # base class argument of copyreg._reconstructor (protocols 0/1)
        ("builtins", "set"): set,  # chumpy keeps `_dirty_vars` sets
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("copyreg", "_reconstructor"): importlib.import_module("copyreg")._reconstructor,
        ("_codecs", "encode"): importlib.import_module("_codecs").encode,  # bytes under protocol 2
    }
    return allowed


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class SafeUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; chumpy and scipy.sparse classes become inert state holders."""

    _allowed: ClassVar[dict[tuple[str, str], Any] | None] = None
    _stubs: ClassVar[dict[str, type[_StateStub]]] = {}

    def __init__(self, file: io.BufferedIOBase) -> None:
        super().__init__(file, encoding="latin1", fix_imports=False)  # latin1: Python 2 numpy buffers

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        qualname = f"{module}.{name}"
        if module == "chumpy" or module.startswith("chumpy."):
            return self._stub(qualname, _ChumpyStub)
        if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and name in _SPARSE_CLASSES:
            return self._stub(qualname, _SparseStub)
        if SafeUnpickler._allowed is None:
            SafeUnpickler._allowed = _allowed_globals()
        try:
            return SafeUnpickler._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refusing to unpickle global {qualname!r}: not on the MANO allow-list") from None

    @classmethod
    def _stub(cls, qualname: str, base: type[_StateStub]) -> type[_StateStub]:
        if qualname not in cls._stubs:
            cls._stubs[qualname] = type(qualname.rsplit(".", 1)[-1], (base,), {"origin": qualname})
        return cls._stubs[qualname]


def _to_array(value: Any, key: str) -> np.ndarray:
    if isinstance(value, _ChumpyStub | _SparseStub):
        return value.to_array()
    if isinstance(value, _StateStub):
        raise MANOModelError(f"{key}: unsupported pickled object {value.origin}")
    arr = np.asarray(value)
    if arr.dtype == object:
        raise MANOModelError(f"{key}: not a numeric array (dtype object)")
    return arr


def validate_model(arrays: Mapping[str, Any], source: str = "model") -> dict[str, np.ndarray]:
    """The smplx MANO keys as plain arrays (float64; int64 for faces and kintree), shapes checked.

    Raises `MANOModelError` naming the first missing key or wrongly shaped array.
    """
    missing = [k for k in MODEL_KEYS if k not in arrays]
    if missing:
        raise MANOModelError(f"{source}: missing key(s) {missing}; a MANO model needs {list(MODEL_KEYS)}")
    out: dict[str, np.ndarray] = {}
    for key, want in MODEL_SHAPES.items():
        arr = _to_array(arrays[key], key)
        ok = arr.ndim == len(want) and all(w is None or w == s for w, s in zip(want, arr.shape, strict=True))
        if not ok:
            spec = "x".join("*" if w is None else str(w) for w in want)
            raise MANOModelError(f"{source}: {key} has shape {arr.shape}, expected ({spec})")
        if key in _INT_KEYS:
            # The official kintree root parent is uint32 max; smplx ignores it, so store the conventional -1.
            arr = arr.astype(np.int64)
            if key == "kintree_table":
                arr[0, 0] = -1
        else:
            arr = arr.astype(np.float64)
        out[key] = arr
    return out


def load_mano_pickle(path: Path | str) -> dict[str, np.ndarray]:
    """Read a MANO pickle through `SafeUnpickler` and return the validated smplx arrays."""
    path = Path(path)
    with open(path, "rb") as f:
        data = SafeUnpickler(f).load()
    if not isinstance(data, dict):
        raise MANOModelError(f"{path}: expected a dict of arrays, got {type(data).__name__}")
    return validate_model(data, source=str(path))


def save_model(arrays: Mapping[str, np.ndarray], dst: Path | str) -> Path:
    """Write validated MANO arrays as an uncompressed `.npz` (atomically: temp file, then rename)."""
    dst = Path(dst)
    if dst.suffix != ".npz":
        raise ValueError(f"{dst}: the output must end in .npz")
    arrays = validate_model(arrays, source=str(dst))

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to the temp name
            np.savez(f, **arrays)

    return atomic_write(dst, save)


def convert(src: Path | str, dst: Path | str) -> Path:
    """MANO pickle -> plain-numpy npz with the keys of `MODEL_KEYS`; returns `dst`."""
    return save_model(load_mano_pickle(src), dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.canonical.mano.convert",
        description="Convert a MANO pickle (chumpy + scipy.sparse) to a plain-numpy .npz for ingest.canonical.hands.",
    )
    parser.add_argument("src", type=Path, help="MANO_RIGHT.pkl or MANO_LEFT.pkl from the MANO release")
    parser.add_argument("dst", type=Path, help="output .npz (name it MANO_RIGHT.npz / MANO_LEFT.npz)")
    args = parser.parse_args(argv)
    try:
        out = convert(args.src, args.dst)
    except (pickle.UnpicklingError, MANOModelError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({', '.join(MODEL_KEYS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
