"""Egocentric video without actions: WebDataset shards streamed in place (never extracted), folders of videos,
captions tables, sidecar windows and fixed clips, bad samples."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.egovideo.adapter import EgoVideoAdapter
from adapters.registry import get_adapter
from adapters.synthetic.egovideo import CAPTIONS, EgoClip, EgoFixture, mp4_bytes
from adapters.synthetic.video import synthetic_frame
from schemas.tiers import QualityTier, tier_of


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def files_under(*roots: Path) -> set[Path]:
    return {p for r in roots for p in r.rglob("*")}


def test_discovery_lists_every_sample_and_decodes_nothing(shards: EgoFixture) -> None:
    adapter = get_adapter("ego_video")
    with mock.patch("av.open", side_effect=AssertionError("discovery opened a video")):
        refs = list(adapter.discover(shards.root))  # every sidecar gives duration_sec: no header probed either
    assert refs == list(adapter.discover(shards.root))
    good = {r.raw_id for r in refs if r.error is None}
    assert good == {c.raw_id for c in shards.clips if c.bad in (None, "corrupt_video")}
    assert [r.raw_id for r in refs] == sorted((r.raw_id for r in refs), key=lambda s: s)  # natural = text here


def test_every_bad_sample_names_shard_key_and_field(shards: EgoFixture) -> None:
    refs = {r.raw_id: r for r in EgoVideoAdapter().discover(shards.root)}
    expected = {"no_video": ("video", "no video member"), "bad_json": ("json", "unreadable json sidecar"),
                "duplicate_member": ("members", "repeats extension 'json'"),
                "bad_window": ("json.start_sec", "not inside the video"),
                "corrupt_shard": ("shard", "unreadable shard"),
                "corrupt_video": ("video", "unreadable video")}  # fmt: skip
    for clip in shards.clips:
        if clip.bad is None:
            continue
        field, why = expected[clip.bad]
        ref = refs[clip.raw_id]
        if clip.bad != "corrupt_video":  # its sidecar gives the duration: found out at read
            assert ref.error and why in ref.error and f"field {field!r}" in ref.error, (clip.bad, ref.error)
            assert str(clip.file) in ref.error and f"episode {clip.raw_id}" in ref.error
        with pytest.raises(AdapterError, match=why):
            EgoVideoAdapter().read(ref)


def test_frames_stream_from_the_shard_with_no_file_written(shards: EgoFixture, tmp_path: Path) -> None:
    """Plain and gzip shards: every frame of every good clip, pixel for pixel, and nothing new on disk anywhere."""
    adapter = EgoVideoAdapter()
    refs = {r.raw_id: r for r in adapter.discover(shards.root) if r.error is None}
    before = {p: p.stat().st_size for p in files_under(shards.root)}
    decoded = 0
    for clip in shards.good:
        raw = adapter.read(refs[clip.raw_id])
        assert tier_of(raw.tier, raw.verdicts) == QualityTier.actionless and not raw.has_action
        assert raw.embodiment == "human_video"
        cam = raw.cameras["video"]
        start, end = clip.window or (0.0, clip.duration_s)
        assert len(cam) == round((end - start) * clip.fps) and raw.native_fps == clip.fps
        for i, rgb in cam.frames():
            frame_no = round((cam.timestamps[i] + start) * clip.fps)
            assert psnr(rgb, synthetic_frame(shards.height, shards.width, frame_no, clip.seed)) > 30
            decoded += 1
        assert [lang.text for lang in raw.language] == [clip.caption]
    assert decoded == sum(
        round(((c.window or (0, c.duration_s))[1] - (c.window or (0, 0))[0]) * c.fps) for c in shards.good
    )
    assert any(str(c.file).endswith(".tar.gz") for c in shards.good)
    assert {p: p.stat().st_size for p in files_under(shards.root)} == before  # nothing extracted beside the shards
    assert reads_write_no_temp_file(shards, tmp_path / "tmp") == []


def reads_write_no_temp_file(shards: EgoFixture, scratch: Path) -> list[str]:
    """What the reads of every good clip leave in the temp dir, read in a process of its own whose TMPDIR is `scratch`
    (in this process, another test's leftover thread could write to a patched temp dir: CI saw one such file)."""
    scratch.mkdir()
    script = (
        "import sys; from pathlib import Path; from adapters.egovideo.adapter import EgoVideoAdapter\n"
        "a = EgoVideoAdapter(); refs = {r.raw_id: r for r in a.discover(Path(sys.argv[1])) if r.error is None}\n"
        "for rid in sys.argv[2:]:\n"
        "    for cam in a.read(refs[rid]).cameras.values():\n"
        "        for _ in cam.frames(): pass\n"
    )
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    ids = [c.raw_id for c in shards.good]
    subprocess.run([sys.executable, "-c", script, str(shards.root), *ids], env=env, check=True, timeout=300)
    return os.listdir(scratch)


def write_ego_folder(
    root: Path, *, clips: int = 3, seconds: float = 2.0, fps: int = 30, height: int = 48, width: int = 64
) -> EgoFixture:
    """A folder of mp4s (`videos/<id>.mp4`) with Something-Something-v2-style labels (`labels.json`: a list of
    `{"id", "label", "template", "placeholders"}`) and a csv captions table (`captions.csv`: key, caption)."""
    root = Path(root)
    fixture = EgoFixture(root, height=height, width=width)
    labels, rows = [], []
    for k in range(clips):
        vid = str(1000 + k)
        path = root / "videos" / f"{vid}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mp4_bytes(round(seconds * fps), fps, height, width, k))
        caption = CAPTIONS[k % len(CAPTIONS)]
        labels.append(
            {
                "id": vid,
                "label": caption,
                "template": "Putting [something] onto [something]",
                "placeholders": ["a cup", "the shelf"],
            }
        )
        rows.append({"key": f"videos/{vid}", "caption": caption})
        fixture.clips.append(EgoClip(f"videos/{vid}", f"videos/{vid}", k, round(seconds * fps), fps, path, caption))
    (root / "labels.json").write_text(json.dumps(labels, indent=1))
    with (root / "captions.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["key", "caption"])
        w.writeheader()
        w.writerows(rows)
    return fixture


def test_folder_with_ssv2_labels_csv_captions_and_fixed_clips(tmp_path: Path) -> None:
    fx = write_ego_folder(tmp_path / "ssv2", clips=2)
    ssv2 = {"captions_file": "labels.json", "captions_key_column": "id", "captions_text_column": "label"}
    refs = [r for r in get_adapter("ego_video", ssv2).discover(fx.root)]
    assert [(r.raw_id, r.locator["caption"], r.error) for r in refs] == [(c.raw_id, c.caption, None) for c in fx.clips]
    clipped = get_adapter("ego_video", {"captions_file": "captions.csv", "clip_s": 0.8, "min_duration_s": 0.3})
    refs = list(clipped.discover(fx.root))
    assert [r.raw_id for r in refs][:3] == ["videos/1000/clip0000", "videos/1000/clip0001", "videos/1000/clip0002"]
    assert [r.locator["window_sec"] for r in refs][:3] == [[0.0, 0.8], [0.8, 1.6], [1.6, 2.0]]
    raw = clipped.read(refs[1])
    first = next(iter(raw.cameras["video"].frames()))[1]
    assert psnr(first, synthetic_frame(fx.height, fx.width, 24, fx.clips[0].seed)) > 30  # 0.8 s at 30 fps
    shorter = get_adapter("ego_video", {"clip_s": 0.8, "min_duration_s": 0.6})
    kept = list(shorter.discover(fx.root))
    assert len(kept) == 4
    # every window skipped as too short is named in a finding, never dropped silently
    [short] = [f for f in shorter.findings() if f.code == "too_short"]
    windows = {r.raw_id for r in refs}
    assert set(short.episodes) == windows - {r.raw_id for r in kept} and short.episodes
    assert "min_duration_s (0.6 s)" in short.message


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="clip_stride_s needs clip_s"):
        get_adapter("ego_video", {"clip_stride_s": 1.0})
    with pytest.raises(ValueError):
        get_adapter("ego_video", {"layout": "zip"})


def test_max_episodes_keeps_the_first_episodes_in_order(shards: EgoFixture) -> None:
    full = [r.raw_id for r in EgoVideoAdapter().discover(shards.root)]
    for n in (1, 3, len(full) + 1):
        assert [r.raw_id for r in EgoVideoAdapter({"max_episodes": n}).discover(shards.root)] == full[:n]
