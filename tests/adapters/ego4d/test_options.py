"""Ego4D options (`adapters/ego4d/options.py`): a window must run forward."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.ego4d import Ego4DOptions


def test_window_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="window_s"):
        Ego4DOptions(window_s=(1.0, -1.0))
