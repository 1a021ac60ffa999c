"""`cameras.py`: `--cameras` resolved by key or short name, `none` for no video, unknown names refused naming those
known."""

from __future__ import annotations

import pytest

from jobs.export.lerobot_v3.cameras import PlanError, resolve_cameras

HEAD = "observation.images.head"


def test_cameras_by_key_or_short_name() -> None:
    available = [HEAD, "observation.images.wrist_right"]
    assert resolve_cameras(["head", "observation.images.wrist_right"], available) == available
    assert resolve_cameras(None, available) is None and resolve_cameras(["None"], available) == []
    with pytest.raises(PlanError, match=r"camera 'top' is not among \['observation.images.head'"):
        resolve_cameras(["top"], available)


def test_the_slots_are_names_only_a_manifest_takes() -> None:
    available = [HEAD]
    assert resolve_cameras(["primary"], available, slots=True) == ["observation.images.primary"]
    with pytest.raises(PlanError, match=r"camera 'primary' is not among"):
        resolve_cameras(["primary"], available)
    with pytest.raises(PlanError, match=r"'none' \(no video\) cannot be named with cameras"):
        resolve_cameras(["none", "head"], available)
