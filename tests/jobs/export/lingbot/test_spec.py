"""The LingBot-VA export's settings as the `export` command line gives them (`jobs.export.lingbot.spec`)."""

from __future__ import annotations

from pathlib import Path

from ingest.encoders.wan_config import TEXT_LEN
from jobs.cli import parse
from jobs.export.lingbot.spec import build_spec


def test_the_command_line_gives_the_settings(tmp_path: Path) -> None:
    argv = ["export", str(tmp_path / "c"), "--format", "lingbot-va", "--out", str(tmp_path / "o"), "--size", "64x32"]
    spec = build_spec(parse([*argv, "--vae", str(tmp_path / "vae"), "--fps", "2"]))
    assert (spec.height, spec.width, spec.fps, spec.text_len) == (64, 32, 2, TEXT_LEN)
    assert spec.vae == tmp_path / "vae" and spec.text_encoder is None and spec.root == tmp_path / "c"
    square = build_spec(parse([*argv[:-1], "48"]))
    assert (square.height, square.width) == (48, 48)
