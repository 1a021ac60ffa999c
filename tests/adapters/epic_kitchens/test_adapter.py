"""EPIC-KITCHENS-100 adapter: CSV rows -> segment windows at each video's fractional fps, labels, bad rows."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.epic_kitchens.adapter import EpicKitchensAdapter, nominal_frame_rate, parse_list_cell, parse_timestamp
from adapters.registry import get_adapter
from adapters.storage.beneath import Fence
from adapters.synthetic.epic_kitchens import EpicFixture, write_epic_kitchens
from adapters.synthetic.video import synthetic_frame
from schemas.tiers import QualityTier, tier_of
from tests.fixtures.corrupt import EPIC_BAD_CASES, write_epic_bad


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> EpicFixture:
    return write_epic_bad(tmp_path_factory.mktemp("epic"), EPIC_BAD_CASES, duration_s=2.0, segments_per_video=2)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


# -- cells ------------------------------------------------------------------------------------------------------------


def test_timestamps_and_list_cells_parse_as_the_release_writes_them() -> None:
    assert parse_timestamp("00:00:03.37") == pytest.approx(3.37)
    assert parse_timestamp("01:02:03.5") == pytest.approx(3723.5)
    assert parse_timestamp("00:00:01.089") == pytest.approx(1.089)  # narration_timestamp: a decimal, not 0.89
    for bad in ("0:00:61.5", "00:61:00.00", "3.37", "", "00:00:03,37"):
        with pytest.raises(ValueError, match="HH:MM:SS"):
            parse_timestamp(bad)
    assert parse_list_cell("['courgette', 'bin:rubbish']", str) == ["courgette", "bin:rubbish"]
    assert parse_list_cell("[76, 5]", int) == [76, 5]
    with pytest.raises(ValueError):
        parse_list_cell("['door']", int)
    assert (nominal_frame_rate("P01_01"), nominal_frame_rate("P01_101")) == (60, 50)


# -- discovery --------------------------------------------------------------------------------------------------------


def test_discovery_is_natural_stable_split_by_csv_and_opens_no_video_listed_in_video_info(
    corpus: EpicFixture,
) -> None:
    adapter = get_adapter("epic_kitchens")
    with mock.patch("adapters.cameras.av.open", side_effect=OSError("not opened")) as opened:
        good = [r for r in adapter.discover(corpus.root) if r.error is None]
    # only P31_01, absent from EPIC_100_video_info.csv, has its header read (for its duration)
    # (a fenced read hands PyAV the descriptor of the file it opened: `named` says which file that was)
    assert [Path(Fence.named(c.args[0])).name for c in opened.call_args_list] == ["P31_01.MP4"]
    assert good == [r for r in adapter.discover(corpus.root) if r.error is None]
    assert {r.raw_id: r.subset for r in good} == {s.narration_id: s.split for s in corpus.good}
    ids = [r.raw_id for r in good if r.subset == "validation"]
    assert ids == ["P17_01_0", "P17_01_1", "P18_09_0", "P18_09_1"]


def test_every_bad_row_names_the_csv_line_segment_and_field(corpus: EpicFixture) -> None:
    refs = {r.raw_id: r for r in EpicKitchensAdapter().discover(corpus.root)}
    expected = {
        "bad_timestamp": ("start_timestamp", "is not HH:MM:SS.ff"),
        "stop_before_start": ("stop_timestamp", "is not after start_timestamp"),
        "past_end": ("start_timestamp", "past the end of P01_01"),
        "frame_mismatch": ("start_frame", "away from its timestamp"),
        "bad_nouns": ("all_nouns", "not a Python list literal"),
        "empty_narration": ("narration", "is empty"),
        "missing_video": ("video", "not on disk"),
        "corrupt_video": ("video", "unreadable video P31_01"),
    }
    for seg in corpus.segments:
        if seg.bad is None:
            continue
        ref = refs[seg.narration_id]
        field, why = expected[seg.bad]
        assert ref.error and why in ref.error and f"field {field!r}" in ref.error, (seg.bad, ref.error)
        assert f"episode {seg.narration_id}" in ref.error
        if field != "video":
            assert "EPIC_100_train.csv" in ref.error and "line " in ref.error
        with pytest.raises(AdapterError, match=field):
            EpicKitchensAdapter().read(ref)


def test_min_duration_and_max_episodes(corpus: EpicFixture) -> None:
    spans = sorted(s.stop_s - s.start_s for s in corpus.good)
    longer = get_adapter("epic_kitchens", {"min_duration_s": spans[len(spans) // 2] + 1e-6})
    kept = [r for r in longer.discover(corpus.root) if r.error is None]
    assert 0 < len(kept) < len(corpus.good)
    assert all(r.locator["stop_s"] - r.locator["start_s"] >= spans[len(spans) // 2] for r in kept)
    [short] = [f for f in longer.findings() if f.code == "too_short"]  # named, never dropped silently
    assert len(short.episodes) == len(corpus.good) - len(kept) and "min_duration_s" in short.message
    assert len(list(get_adapter("epic_kitchens", {"max_episodes": 2}).discover(corpus.root))) == 2


def test_no_csv_is_an_error_naming_the_root(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="no segment CSV"):
        list(EpicKitchensAdapter().discover(tmp_path))


# -- reading ----------------------------------------------------------------------------------------------------------


def test_each_window_holds_the_frames_of_its_timestamps_at_the_videos_own_fps(corpus: EpicFixture) -> None:
    """59.94, 50, 29.97, 47.95 and 90 fps: the frames shown in [start, stop) of the video, pixel for pixel."""
    adapter = EpicKitchensAdapter()
    refs = {r.raw_id: r for r in adapter.discover(corpus.root) if r.error is None}
    for seg in corpus.good:
        video = corpus.video(seg.video_id)
        raw = adapter.read(refs[seg.narration_id])
        cam = raw.cameras["video"]
        assert raw.native_fps == pytest.approx(float(video.rate), rel=1e-9)
        first = int(np.ceil(seg.start_s * video.rate - 1e-6))
        last = int(np.ceil(seg.stop_s * video.rate - 1e-6)) - 1
        assert len(cam) == last - first + 1, seg.narration_id
        frames = list(cam.frames())
        for i, rgb in frames[:: max(len(frames) // 4, 1)]:
            frame_no = round((cam.timestamps[i] + seg.start_s) * float(video.rate))
            assert frame_no == first + i
            assert psnr(rgb, synthetic_frame(corpus.height, corpus.width, frame_no, video.seed)) > 30


def test_narration_is_the_task_and_the_labels_are_kept(corpus: EpicFixture) -> None:
    adapter = EpicKitchensAdapter()
    refs = {r.raw_id: r for r in adapter.discover(corpus.root)}
    raw = adapter.read(refs["P01_101_0"])  # an extension video: frames count at 50/s
    assert raw.embodiment == "human_video" and not raw.has_action
    assert tier_of(raw.tier, raw.verdicts) == QualityTier.actionless
    assert [(lang.text, lang.kind) for lang in raw.language] == [("take plate", "narration")]
    assert raw.metadata["labels"] == {
        "verb": "take",
        "verb_class": 0,
        "noun": "plate",
        "noun_class": 2,
        "all_nouns": ["plate"],
        "all_noun_classes": [2],
    }
    assert raw.metadata["nominal_frame_rate"] == 50 and raw.metadata["frames"] == {"start_frame": 5, "stop_frame": 45}
    assert isinstance(raw.metadata["uid"], int)  # the train file's leading uid column
    multi = adapter.read(refs["P17_01_1"])
    assert multi.metadata["labels"]["all_nouns"] == ["courgette", "pan"]
    assert "uid" not in adapter.read(refs["P17_01_0"]).metadata  # the validation file has no uid column


def test_an_older_layout_and_a_lower_case_extension_are_found(tmp_path: Path) -> None:
    fx = write_epic_kitchens(tmp_path / "raw", videos=1, segments_per_video=1)
    video = fx.videos[0]
    moved = tmp_path / "raw/videos/train/P01" / "P01_01.mp4"  # RDSF's EPIC-55 layout
    moved.parent.mkdir(parents=True)
    video.path.rename(moved)
    refs = [r for r in EpicKitchensAdapter().discover(fx.root) if r.subset == "train"]
    assert [r.error for r in refs] == [None] and refs[0].paths[0] == str(moved)
