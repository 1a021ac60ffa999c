"""OXE adapter options (`adapters/oxe/options.py`): the defaults read everything and check every CRC; a control rate
must be positive, duplicates take one of three modes, and an unknown option is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.oxe.options import OXEOptions
from schemas.tiers import QualityTier


def test_defaults_read_every_split_and_check_every_crc() -> None:
    o = OXEOptions()
    assert (o.splits, o.version, o.verify_crc, o.duplicates, o.detect_blank_cameras) == (
        None,
        None,
        True,
        "report",
        True,
    )
    assert o.bgr_cameras is None  # the subset table's rule, not "none"


def test_overrides_are_validated() -> None:
    assert OXEOptions(control_hz=5, tier="low").tier is QualityTier.low
    with pytest.raises(ValidationError, match="control_hz"):
        OXEOptions(control_hz=0)
    with pytest.raises(ValidationError, match="duplicates"):
        OXEOptions(duplicates="drop")
    with pytest.raises(ValidationError):
        OXEOptions(no_such_option=1)
