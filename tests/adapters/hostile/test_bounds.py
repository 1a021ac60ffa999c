"""`adapters.hostile.bounds`: a declared size past its bound is TooLarge naming what, the size and the bound; limits
are the settings `max_<name>`; a file is read whole only within its limit; an array is read once its rows are known
to hold data. What a read costs in memory is the parse process's limit's (issue 84: `tests/adapters/hostile/
test_caged_bombs.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from adapters.hostile import bounds
from adapters.storage.location import locate
from schemas.settings import TooLarge, check, limit


def test_check_names_what_and_the_bound() -> None:
    check("rows", 40, 42, "the cameras' frames")
    with pytest.raises(TooLarge, match=r"rows: 40,000,000 declared, more than the cameras' frames \(42\)"):
        check("rows", 40_000_000, 42, "the cameras' frames")
    with pytest.raises(TooLarge, match="nan declared"):
        check("duration", float("nan"), 10, "max")
    with pytest.raises(TooLarge, match=r"1e\+09 declared"):
        check("duration", 1e9 + 0.5, 10, "max")


def test_limits_are_configured(settings: Any) -> None:
    assert limit("JSON_BYTES") == 1 << 30
    settings(max_json_bytes=2_000_000_000)
    assert limit("JSON_BYTES") == 2_000_000_000


def test_a_refusal_past_a_limit_names_its_setting(settings: Any, tmp_path: Path) -> None:
    """A size past a configured limit names the setting that raises it (issue 97 item 5), through every door: a
    check, a whole-file read; a bound that is no setting names none."""
    settings(max_sidecar_bytes=10)
    (tmp_path / "a.json").write_text("[" + "1," * 20 + "1]")
    with pytest.raises(TooLarge) as err:
        bounds.read_bounded(locate(tmp_path / "a.json"), limit("SIDECAR_BYTES"), "a.json")
    assert str(err.value) == (
        "a.json size in bytes: 43 declared, more than the limit (10), the setting max_sidecar_bytes (--settings FILE);"
        " not read"
    )
    with pytest.raises(TooLarge, match=r"the ROWS limit \(4,000,000\), the setting max_rows \(--settings"):
        check("rows", 5e9, limit("ROWS"), "the ROWS limit")
    with pytest.raises(TooLarge) as plain:
        check("rows", 50, 42, "the cameras' frames")
    assert "setting" not in str(plain.value)


def test_a_file_is_read_whole_only_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, 2]}')
    assert bounds.load_json(locate(path), "a.json") == {"a": [1, 2]}
    assert bounds.read_bounded(locate(path), 13, "a.json") == b'{"a": [1, 2]}'
    with pytest.raises(TooLarge, match=r"a\.json size in bytes: 13 declared, more than the limit \(12\)"):
        bounds.read_bounded(locate(path), 12, "a.json")


def test_an_array_is_read_only_where_its_rows_hold_data(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "a.h5", "w") as f:
        big = f.create_dataset("big", shape=(80_000_000, 4, 4), dtype="f8", chunks=(1024, 4, 4))  # 10 GB declared
        big[:1024] = 1.0  # its first chunk written, the rest never
        f["rows"] = np.arange(40.0).reshape(10, 4)
        f["scalar"] = 3.0
    with h5py.File(tmp_path / "a.h5") as f:
        with pytest.raises(ValueError, match=r"/big in .*a\.h5: 79998976 of rows 0\.\.79999999 lie in chunks never"):
            bounds.read_array(f["big"])
        assert bounds.read_array(f["big"], start=5, stop=7).shape == (2, 4, 4)
        with pytest.raises(ValueError, match=r"rows 2000\.\.2001 lie in chunks never written"):  # absent_data
            bounds.read_array(f["big"], start=2000, stop=2002)
        assert bounds.read_array(f["rows"], start=8).tolist() == [[32, 33, 34, 35], [36, 37, 38, 39]]
        assert bounds.read_array(f["scalar"]) == 3.0


def test_a_whole_file_read_with_no_bound_still_refuses_an_lfs_pointer(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY" + bytes(100))
    assert bounds.read_bounded(locate(path), None, "a.npy") == b"\x93NUMPY" + bytes(100)
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 12345\n")
    with pytest.raises(ValueError, match="LFS"):
        bounds.read_bounded(locate(path), None, "a.npy")
