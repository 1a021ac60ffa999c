"""Small but faithful Ego4D corpora: `v2/full_scale/<video_uid>.mp4`, `v2/clips/<clip_uid>.mp4`,
`v2/annotations/narration.json` and `ego4d.json`, as `adapters/ego4d/adapter.py` reads them (with its sources).

Quirks reproduced: `#C C ...` / `#O ...` tags and `#unsure` in the texts; one `annotation_uid` per annotation pass (not
per narration), pass 2 not sorted by time. `ego4d.json` lists every video (`is_stereo`, `video_metadata`, `fps`,
`num_frames`) and clips, downloaded or not. Each `bad` label adds a video: `corrupt_video` an unreadable mp4, any other
a good one for a test to damage. Frame `i` of video `v` is `synthetic_frame(h, w, i, v.seed)` (clips keep the full
video's frame numbering). Stereo videos, mp4s whose first frame is not at pts 0 and a corpus without `ego4d.json`
are variants only tests write (`tests/fixtures/writers/ego4d.py`).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.synthetic.video import synthetic_frame, write_mp4, write_not_mp4

PASSES = ("narration_pass_1", "narration_pass_2")
TEXTS = (
    "#C C picks up the cup from the table",
    "#C C opens the drawer with his left hand",
    "#O man X hands a knife to C",
    "#C C places the #unsure on the shelf",
    "#C C wipes the counter with a cloth",
    "#C C turns on the tap #unsure",
    "#C C looks around",
)


@dataclass
class Ego4DVideo:
    uid: str
    path: Path  # full_scale mp4 (or the clip when `clip_uid` is set)
    num_frames: int
    fps: int
    seed: int
    narrations: dict[str, list[dict]] = field(default_factory=dict)  # pass -> narrations as written (file order)
    summaries: dict[str, list[dict]] = field(default_factory=dict)
    bad: str | None = None
    clip_uid: str | None = None
    clip_start_frame: int = 0  # first video frame held by the clip
    clip_frames: int = 0
    start_sec: float = 0.0  # pts time of the first frame of the full-scale mp4 (`video_start_sec`)

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


@dataclass
class Ego4DFixture:
    root: Path
    narration_file: Path
    metadata_file: Path
    videos: list[Ego4DVideo]
    height: int
    width: int

    def video(self, uid: str) -> Ego4DVideo:
        return next(v for v in self.videos if v.uid == uid)


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def write_ego4d(
    root: Path,
    *,
    num_videos: int = 2,
    duration_s: float = 4.0,
    fps: int = 30,
    narrations_per_video: int = 4,
    height: int = 48,
    width: int = 64,
    clip_video: bool = False,
    bad: Iterable[str] = (),
) -> Ego4DFixture:
    """Write `num_videos` narrated videos (+ one extra video per `bad` label) and their annotations under `root`.

    `clip_video` stores the last good video only as a clip (`v2/clips/<clip_uid>.mp4`, its middle 60 %, narrations
    inside it), mapped through `ego4d.json` `clips`.
    """
    root = Path(root)
    rng = random.Random(0)
    n_frames = round(duration_s * fps)
    cases: list[str | None] = [None] * num_videos + list(bad)
    videos: list[Ego4DVideo] = []
    for k, case in enumerate(cases):
        uid = _uid(rng)
        v = Ego4DVideo(uid, root / "v2" / "full_scale" / f"{uid}.mp4", n_frames, fps, k, bad=case)
        lo, hi = 0, n_frames
        if clip_video and k == num_videos - 1:
            v.clip_uid = _uid(rng)
            v.path = root / "v2" / "clips" / f"{v.clip_uid}.mp4"
            lo, hi = round(0.2 * n_frames), round(0.8 * n_frames)
            v.clip_start_frame, v.clip_frames = lo, hi - lo
        span = (hi - lo) / fps
        for p, pass_name in enumerate(PASSES):
            annotation_uid = _uid(rng)
            narrs = []
            for i in range(narrations_per_video):
                t = round(lo / fps + (i + 0.5) * span / narrations_per_video + rng.uniform(-0.1, 0.1), 6)
                text = TEXTS[(k + i + p) % len(TEXTS)]
                narrs.append(
                    {
                        "timestamp_sec": t,
                        "timestamp_frame": round(t * fps),
                        "narration_text": text,
                        "annotation_uid": annotation_uid,
                    }
                )
            if p == 1 and len(narrs) > 2:  # pass 2 is not sorted by time in the file
                narrs[0], narrs[2] = narrs[2], narrs[0]
            v.narrations[pass_name] = narrs
            v.summaries[pass_name] = [
                {
                    "start_sec": 0.0,
                    "end_sec": round(duration_s, 6),
                    "summary_text": f"#Summary C tidies the kitchen (pass {p + 1}).",
                    "annotation_uid": annotation_uid,
                }
            ]
        if case == "corrupt_video":
            write_not_mp4(v.path, rng.randbytes(3000))
        else:
            frames = (synthetic_frame(height, width, i, v.seed) for i in range(lo, hi))
            write_mp4(v.path, frames, fps, gop=15, bframes=2)
        videos.append(v)

    narration_file = root / "v2" / "annotations" / "narration.json"
    narration_file.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        v.uid: {p: {"narrations": v.narrations[p], "summaries": v.summaries[p]} for p in PASSES}
        for v in sorted(videos, key=lambda v: v.path.name)  # file order is not the sorted uid order
    }
    narration_file.write_text(json.dumps(doc, indent=1))

    metadata_file = root / "ego4d.json"
    meta = {
        "version": "v2",
        "videos": [
            {
                "video_uid": v.uid,
                "duration_sec": v.duration_s,
                "scenarios": ["Cooking"],
                "is_stereo": False,
                "video_metadata": {
                    "fps": float(fps),
                    "num_frames": v.num_frames,
                    "video_duration_sec": v.duration_s,
                    "video_start_sec": v.start_sec,
                    "display_resolution_width": width,
                    "display_resolution_height": height,
                    "video_codec": "h264",
                },
            }
            for v in videos
        ],
        "clips": [
            {
                "clip_uid": v.clip_uid,
                "video_uid": v.uid,
                "video_start_sec": v.clip_start_frame / fps,
                "video_end_sec": (v.clip_start_frame + v.clip_frames) / fps,
                "video_start_frame": v.clip_start_frame,
                "video_end_frame": v.clip_start_frame + v.clip_frames,
            }
            for v in videos
            if v.clip_uid
        ],
    }
    metadata_file.write_text(json.dumps(meta, indent=1))
    return Ego4DFixture(root, narration_file, metadata_file, videos, height, width)
