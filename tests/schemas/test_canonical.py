"""The camera every stage looks at by default (`schemas.canonical.main_video_key`)."""

from __future__ import annotations

from schemas.canonical import main_video_key


def test_main_video_key() -> None:
    keys = ["observation.images.wrist_left", "observation.images.head", "observation.images.top"]
    assert main_video_key(keys) == "observation.images.head"
    assert main_video_key(keys, "top") == "observation.images.top"
    assert main_video_key(keys, "missing") == "observation.images.head"
    assert main_video_key(["observation.images.top"]) == "observation.images.top"
    assert main_video_key([]) is None
