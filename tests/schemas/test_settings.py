"""`schemas.settings`: a settings file is validated whole before work starts, a bad value or an unknown key refused
naming the field; a variable that used to set a field is refused naming it; a process started after `use` runs with
the settings (a Ray worker, a child)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemas.settings import ENV, Settings, current, load, use


def test_a_bad_value_or_an_unknown_key_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "eidata.toml"
    path.write_text("max_json_bytes = 1_000_000\nscratch = '/fast/scratch'\n")
    assert load(path.read_text(), str(path)) == Settings(max_json_bytes=1_000_000, scratch="/fast/scratch")
    path.write_text("max_rows = -5\nstore_deadline_s = 'soon'\nmax_json_byte = 3\n")
    with pytest.raises(ValueError, match=r"eidata\.toml: max_rows: Input should be greater than 0 \(got -5\)") as e:
        load(path.read_text(), str(path))
    assert "store_deadline_s: Input should be a valid number" in str(e.value)
    assert "max_json_byte: Extra inputs are not permitted" in str(e.value)


def test_a_variable_that_set_a_field_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIDATA_MAX_JSON_BYTES", "64")
    with pytest.raises(ValueError, match=r"EIDATA_MAX_JSON_BYTES \(now max_json_bytes\): no longer read"):
        load(None)


def test_a_process_started_after_use_runs_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "{}")  # restored after the test
    use(Settings(max_rows=7, lease_ttl_s=9))
    assert current().max_rows == 7
    code = "from schemas.settings import current; s = current(); print(s.max_rows, s.lease_ttl_s)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split() == ["7", "9.0"]
    monkeypatch.setenv(ENV, '{"max_rows": 0}')
    with pytest.raises(ValueError, match=r"EIDATA_SETTINGS: max_rows: Input should be greater than 0"):
        current()
