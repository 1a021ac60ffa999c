"""`adapters.storage.bounds`: a declared size past its bound is TooLarge naming what, the size and the bound; limits
come from `EIDATA_MAX_<NAME>`; a file is read whole only within its limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage import bounds


def test_check_names_what_and_the_bound() -> None:
    bounds.check("rows", 40, 42, "the cameras' frames")
    with pytest.raises(bounds.TooLarge, match=r"rows: 40,000,000 declared, more than the cameras' frames \(42\)"):
        bounds.check("rows", 40_000_000, 42, "the cameras' frames")
    with pytest.raises(bounds.TooLarge, match="nan declared"):
        bounds.check("duration", float("nan"), 10, "max")
    with pytest.raises(bounds.TooLarge, match=r"1e\+09 declared"):
        bounds.check("duration", 1e9 + 0.5, 10, "max")


def test_limits_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bounds.limit("JSON_BYTES") == 1 << 30
    monkeypatch.setenv("EIDATA_MAX_JSON_BYTES", "2e9")
    assert bounds.limit("JSON_BYTES") == 2_000_000_000
    for bad in ("lots", "0", "-5"):
        monkeypatch.setenv("EIDATA_MAX_ROWS", bad)
        with pytest.raises(ValueError, match="EIDATA_MAX_ROWS"):
            bounds.limit("ROWS")


def test_a_file_is_read_whole_only_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, 2]}')
    assert bounds.load_json(path, "a.json") == {"a": [1, 2]}
    assert bounds.read_bounded(path, 13, "a.json") == b'{"a": [1, 2]}'
    with pytest.raises(bounds.TooLarge, match=r"a\.json size in bytes: 13 declared, more than the limit \(12\)"):
        bounds.read_bounded(path, 12, "a.json")
