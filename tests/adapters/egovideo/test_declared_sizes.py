"""What an ego-video sidecar declares is checked before it is acted on (reliability review 1i): a 62-byte sidecar
claiming 1e9 s for a 9 KB video is held to the video's header, not cut into 1e8 windows; an oversized sidecar is not
read; a plausible sidecar duration is still trusted without opening the video."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from adapters.egovideo.adapter import EgoVideoAdapter
from adapters.synthetic.video import synthetic_frame, write_mp4
from tests.fixtures.memory_cap import run_capped

CAP = 3 << 30  # the address-space cap of the child: the unbounded reader reached 7.3 GB
BUDGET = 700 << 20  # peak RSS a bounded discovery stays under (imports ~250 MB)


def _video(path: Path, frames: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(path, (synthetic_frame(32, 32, i, 0) for i in range(frames)), 10)
    return path


def test_a_sidecar_claiming_1e9_s_is_refused_within_a_memory_budget(tmp_path: Path) -> None:
    video = _video(tmp_path / "root/clip.mp4")
    (tmp_path / "root/clip.json").write_text(json.dumps({"caption": "a worker at a bench", "duration_sec": 1e9}))
    assert video.stat().st_size < 20_000 and (tmp_path / "root/clip.json").stat().st_size < 70
    run = run_capped(
        f"""
        from adapters.egovideo.adapter import EgoVideoAdapter
        refs = list(EgoVideoAdapter({{"layout": "folder", "clip_s": 10}}).discover({str(tmp_path / "root")!r}))
        result = [[r.raw_id, r.error] for r in refs]
        """,
        CAP,
    )
    assert run.returncode == 0, run.stderr
    [[raw_id, error]] = run.result
    assert raw_id == "clip" and "the sidecar's 1e+09 s is not the video's 2 s" in error and "json.duration_sec" in error
    assert run.peak_rss < BUDGET


def test_a_long_video_past_max_duration_is_refused(tmp_path: Path) -> None:
    _video(tmp_path / "clip.mp4", frames=30)
    refs = list(EgoVideoAdapter({"layout": "folder", "max_duration_s": 2.0}).discover(tmp_path))
    assert "video duration in s: 3 declared, more than max_duration_s (2)" in refs[0].error


def test_a_plausible_sidecar_duration_is_trusted_without_opening_the_video(tmp_path: Path) -> None:
    """A 1 s sidecar for a video of a few KB: the file can hold it, so discovery does not probe the container."""
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 4096)  # not a video at all: any probe would fail
    (tmp_path / "clip.json").write_text(json.dumps({"duration_sec": 3.0}))
    [ref] = list(EgoVideoAdapter({"layout": "folder"}).discover(tmp_path))
    assert ref.error is None and ref.locator["window_sec"] == [0.0, 3.0]


def test_an_oversized_sidecar_is_not_read(tmp_path: Path, settings: Any) -> None:
    settings(max_sidecar_bytes=1000)
    _video(tmp_path / "folder/clip.mp4")
    (tmp_path / "folder/clip.txt").write_text("x" * 1001)
    [ref] = list(EgoVideoAdapter({"layout": "folder"}).discover(tmp_path / "folder"))
    assert "unreadable txt sidecar: clip.txt size in bytes: 1,001 declared, more than the limit (1,000)" in ref.error
    shard = tmp_path / "shards/part-000.tar"
    shard.parent.mkdir()
    with tarfile.open(shard, "w") as tf:
        for name, data in (("k1.mp4", (tmp_path / "folder/clip.mp4").read_bytes()), ("k1.json", b" " * 5000)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    [ref] = list(EgoVideoAdapter().discover(tmp_path / "shards"))
    assert "sidecar member size in bytes: 5,000 declared, more than the limit (1,000)" in ref.error
