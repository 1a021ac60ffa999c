"""An output's check before any work: a local folder passes and is left untouched (tests/s3/test_credentials.py
checks the conditional-write probe of an object store against a real server)."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.preflight import preflight_output


def test_a_local_output_passes_and_nothing_is_written(tmp_path: Path) -> None:
    preflight_output(str(tmp_path / "not-yet" / "corpus"))
    preflight_output(f"file://{tmp_path}")
    assert list(tmp_path.iterdir()) == []
