"""Outside tools some tests need (the lerobot oracle, ruff, Chromium): without one a test skips, saying what is
missing, except on CI (`CI=true`), where it fails instead, so a broken install cannot leave CI green."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def tool_missing(tool: str, hint: str) -> NoReturn:
    """Skip the calling test (or fixture) because `tool` is missing; under `CI=true`, fail it instead."""
    if on_ci():
        pytest.fail(f"CI=true and {tool} is missing: {hint}", pytrace=False)
    pytest.skip(f"{tool} is missing: {hint}")


def chromium() -> str:
    """The headless browser the report test renders pages with (tests/jobs/report/test_page.py)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    tool_missing("chromium", "not on PATH (Debian: apt-get install chromium; .ci/run installs it with apt)")
