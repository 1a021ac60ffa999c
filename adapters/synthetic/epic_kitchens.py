"""Small but faithful EPIC-KITCHENS-100 corpora: `<Pxx>/videos/<video_id>.MP4`, `EPIC_100_train.csv`,
`EPIC_100_validation.csv` and `EPIC_100_video_info.csv`, as the makers write them (see
`adapters/epic_kitchens/adapter.py`).

Reproduced: the upper-case `.MP4` of the download scripts; the real `video_info`'s fractional frame rates as it prints
them (`VIDEOS`) with the matching mp4 time bases; EPIC-55 (`PXX_YY`) and extension (`PXX_1YY`) video ids;
`HH:MM:SS.ff` timestamps and `HH:MM:SS.fff` narration timestamps; frame columns numbered from 1 at 60/s (EPIC-55) or
50/s (extension), `floor(t * rate)` as the real rows have them; `all_nouns` / `all_noun_classes` as Python list
literals (quoted when they hold a comma); narrations in EPIC's style (`NARRATIONS`); the train file with a leading
`uid` column and rows in narration order, the validation file without `uid`, sorted by `narration_id` as text. Frame
`i` of a video is `synthetic_frame(h, w, i, seed)`, so tests can compare pixels. `corrupt_video` adds the demo's bad
row: an extra train row for a video whose bytes are not an mp4, absent from video_info (the tests' bad rows:
`tests/fixtures/corrupt.py` `write_epic_bad`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from adapters.synthetic.video import write_not_mp4, write_synthetic_mp4

HEADER = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp", "stop_timestamp",
          "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class", "all_nouns",
          "all_noun_classes"]  # fmt: skip

# (video_id, rate, how video_info prints it, split): the rates of the real video_info
VIDEOS = (
    ("P01_01", Fraction(60000, 1001), "59.9400599400599", "train"),
    ("P01_101", Fraction(50), "50.0", "train"),
    ("P09_07", Fraction(30000, 1001), "29.97002997002997", "train"),
    ("P17_01", Fraction(48000, 1001), "47.952047952047955", "validation"),
    ("P18_09", Fraction(90), "90.0", "validation"),
)
# (narration, verb, verb_class, noun, noun_class, all_nouns, all_noun_classes): real rows' style and classes
NARRATIONS = (
    ("open drawer", "open", 3, "drawer", 8, ["drawer"], [8]),
    ("take plate", "take", 0, "plate", 2, ["plate"], [2]),
    ("put down knife", "put-down", 1, "knife", 4, ["knife"], [4]),
    ("still washing courgette", "wash", 2, "courgette", 76, ["courgette"], [76]),
    ("pour courgette onto pan", "pour-onto", 9, "courgette", 76, ["courgette", "pan"], [76, 5]),
    ("dicing courgette", "dice", 7, "courgette", 76, ["courgette"], [76]),
    ("take carrots and", "take", 0, "carrot", 41, ["carrot"], [41]),
    ("turn kettle on", "turn-on", 6, "kettle", 44, ["kettle"], [44]),
)


@dataclass
class EpicSegment:
    narration_id: str
    video_id: str
    start_s: float  # as written (two decimals)
    stop_s: float
    narration: str
    split: str
    bad: str | None = None


@dataclass
class EpicVideo:
    video_id: str
    path: Path
    rate: Fraction
    frames: int
    seed: int
    split: str

    @property
    def duration_s(self) -> float:
        return float(self.frames / self.rate)


@dataclass
class EpicFixture:
    root: Path
    videos: list[EpicVideo]
    segments: list[EpicSegment] = field(default_factory=list)
    height: int = 48
    width: int = 64

    def video(self, video_id: str) -> EpicVideo:
        return next(v for v in self.videos if v.video_id == video_id)

    @property
    def good(self) -> list[EpicSegment]:
        return [s for s in self.segments if s.bad is None]


def timestamp(seconds: float, digits: int = 2) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:0{3 + digits}.{digits}f}"


def frame_number(video_id: str, seconds: float) -> int:
    rate = 50 if len(video_id.partition("_")[2]) == 3 else 60
    return max(1, math.floor(round(seconds * rate, 6)))


def write_epic_kitchens(
    root: Path,
    *,
    duration_s: float = 3.0,
    segments_per_video: int = 3,
    height: int = 48,
    width: int = 64,
    videos: int = len(VIDEOS),
    corrupt_video: bool = False,
) -> EpicFixture:
    root = Path(root)
    fixture = EpicFixture(root, [], height=height, width=width)
    for k, (vid, rate, _, split) in enumerate(VIDEOS[:videos]):
        participant = vid.partition("_")[0]
        v = EpicVideo(vid, root / participant / "videos" / f"{vid}.MP4", rate, int(duration_s * rate), 10 + k, split)
        write_synthetic_mp4(v.path, v.frames, rate, height, width, v.seed, gop=12, bframes=2)
        fixture.videos.append(v)
        span = v.duration_s / segments_per_video
        for i in range(segments_per_video):
            start = round(i * span + 0.1, 2)
            stop = round(min(start + 0.8 * span, v.duration_s - 0.05), 2)
            text = NARRATIONS[(k + i) % len(NARRATIONS)][0]
            fixture.segments.append(EpicSegment(f"{vid}_{i}", vid, start, stop, text, split))
    if corrupt_video:
        fixture.segments.append(EpicSegment("P31_01_100", "P31_01", 0.5, 1.5, "open drawer", "train", "corrupt_video"))
        write_not_mp4(root / "P31" / "videos" / "P31_01.MP4", bytes(range(256)) * 8)
    write_csvs(fixture)
    return fixture


def _row(seg: EpicSegment) -> dict[str, str]:
    text, verb, verb_class, noun, noun_class, nouns, classes = next(
        (n for n in NARRATIONS if n[0] == seg.narration), NARRATIONS[0]
    )
    return {
        "narration_id": seg.narration_id,
        "participant_id": seg.video_id.partition("_")[0],
        "video_id": seg.video_id,
        "narration_timestamp": timestamp(max(seg.start_s - 0.2, 0), 3),
        "start_timestamp": timestamp(seg.start_s),
        "stop_timestamp": timestamp(seg.stop_s),
        "start_frame": str(frame_number(seg.video_id, seg.start_s)),
        "stop_frame": str(frame_number(seg.video_id, seg.stop_s)),
        "narration": text,
        "verb": verb,
        "verb_class": str(verb_class),
        "noun": noun,
        "noun_class": str(noun_class),
        "all_nouns": str(nouns),
        "all_noun_classes": str(classes),
    }


def write_csvs(fixture: EpicFixture) -> None:
    """The train, validation and video_info CSVs of `fixture`'s videos and segments."""
    fixture.root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation"):
        segs = [s for s in fixture.segments if s.split == split]
        if split == "validation":
            segs.sort(key=lambda s: s.narration_id)  # the real validation file: sorted as text
        with (fixture.root / f"EPIC_100_{split}.csv").open("w", newline="") as f:
            header = (["uid"] if split == "train" else []) + HEADER
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            for i, seg in enumerate(segs):
                w.writerow(({"uid": str(i)} if split == "train" else {}) | _row(seg))
    with (fixture.root / "EPIC_100_video_info.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video_id", "duration", "fps", "resolution"])
        for v in fixture.videos:
            printed = next(p for vid, _, p, _ in VIDEOS if vid == v.video_id)
            w.writerow([v.video_id, repr(v.duration_s), printed, f"{fixture.width}x{fixture.height}"])
