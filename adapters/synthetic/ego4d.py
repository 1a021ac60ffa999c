"""Small but faithful Ego4D corpora: `v2/full_scale/<video_uid>.mp4`, `v2/clips/<clip_uid>.mp4`,
`v2/annotations/narration.json` and `ego4d.json` (as `adapters/ego4d/adapter.py` reads them, with its sources).

`narration.json` is `{video_uid: {"narration_pass_1": {"narrations": [{"timestamp_sec", "timestamp_frame",
"narration_text", "annotation_uid"}], "summaries": [{"start_sec", "end_sec", "summary_text", "annotation_uid"}]},
"narration_pass_2": {...}}}`; texts use the `#C C ...` (camera wearer) / `#O ...` (other person) tags and `#unsure`.
Quirks reproduced: one `annotation_uid` per annotation pass (not per narration), pass 2 not sorted by time.
`ego4d.json` lists every video (`is_stereo`, `video_metadata.video_duration_sec`, `video_start_sec`, `fps`,
`num_frames`) and clips (`video_start_sec`, `video_end_sec`), downloaded or not. Bad cases, each on an extra video:
narrations for a video that is absent, an unreadable mp4, a narration past the end of its video. Frame `i` of video
`v` is `adapters.synthetic.video.synthetic_frame(h, w, i, v.seed)` (clips keep the full video's frame numbering) so
tests can compare pixels; a stereo video holds it as its left eye, side by side with a different right eye
(`right_eye_frame`), in a double-width frame as Ego4D's `is_stereo` videos do.

`video_start_sec` writes the full-scale mp4s as Ego4D's canonical files are: time base 1/15360 and the first frame at
pts `round(video_start_sec * 15360)` (323, i.e. 0.021 s, in the official "Examples Notebook"), while narration times
count from the first frame.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from adapters.synthetic.video import synthetic_frame, write_mp4

PASSES = ("narration_pass_1", "narration_pass_2")
BAD_CASES = ("missing_video", "corrupt_video", "past_end")
TIME_BASE = Fraction(1, 15360)  # canonical_video_base_denominator of the Ego4D full-scale mp4s (Examples Notebook)
RIGHT_EYE_SEED = 3.7  # seed offset of the right eye: a different picture, so a wrong half shows
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
    is_stereo: bool = False  # written side by side: left eye `synthetic_frame`, right eye `right_eye_frame`
    start_sec: float = 0.0  # pts time of the first frame of the full-scale mp4 (`video_start_sec`)

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


@dataclass
class Ego4DFixture:
    root: Path
    narration_file: Path
    metadata_file: Path | None
    videos: list[Ego4DVideo]
    height: int
    width: int

    def video(self, uid: str) -> Ego4DVideo:
        return next(v for v in self.videos if v.uid == uid)


def right_eye_frame(height: int, width: int, index: int, seed: float) -> np.ndarray:
    """The right eye of a stereo video's frame `index` (its left eye is `synthetic_frame` with the same seed)."""
    return synthetic_frame(height, width, index, seed + RIGHT_EYE_SEED)


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
    seed: int = 0,
    passes: tuple[str, ...] = PASSES,
    metadata: bool = True,
    clip_video: bool = False,
    bad: Iterable[str] = (),
    stereo: Iterable[int] = (),
    video_start_sec: float = 0.0,
) -> Ego4DFixture:
    """Write `num_videos` narrated videos (+ one extra video per `bad` case) and their annotations under `root`.

    `clip_video` stores the last good video only as a clip (`v2/clips/<clip_uid>.mp4`, its middle 60 %, narrations
    inside it), mapped through `ego4d.json` `clips`. `metadata=False` leaves `ego4d.json` out: durations then come
    from the mp4 headers. `stereo`: indices of the good videos written side by side (`is_stereo`, double width).
    `video_start_sec`: pts time of the first frame of every full-scale mp4, recorded in `ego4d.json`.
    """
    bad = list(bad)
    unknown = set(bad) - set(BAD_CASES)
    if unknown:
        raise ValueError(f"unknown bad case(s) {sorted(unknown)}; known: {BAD_CASES}")
    root = Path(root)
    rng = random.Random(seed)
    n_frames = round(duration_s * fps)
    cases: list[str | None] = [None] * num_videos + bad
    videos: list[Ego4DVideo] = []
    for k, case in enumerate(cases):
        uid = _uid(rng)
        v = Ego4DVideo(uid, root / "v2" / "full_scale" / f"{uid}.mp4", n_frames, fps, seed * 100 + k, bad=case)
        v.is_stereo = case is None and k in set(stereo)
        lo, hi = 0, n_frames
        if clip_video and k == num_videos - 1:
            v.clip_uid = _uid(rng)
            v.path = root / "v2" / "clips" / f"{v.clip_uid}.mp4"
            lo, hi = round(0.2 * n_frames), round(0.8 * n_frames)
            v.clip_start_frame, v.clip_frames = lo, hi - lo
        span = (hi - lo) / fps
        for p, pass_name in enumerate(passes):
            annotation_uid = _uid(rng)
            narrs = []
            for i in range(narrations_per_video):
                t = round(lo / fps + (i + 0.5) * span / narrations_per_video + rng.uniform(-0.1, 0.1), 6)
                if case == "past_end" and i == narrations_per_video - 1:
                    t = round(duration_s + 2.0, 6)
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
            v.path.parent.mkdir(parents=True, exist_ok=True)
            v.path.write_bytes(b"\x00\x00\x00\x20ftypisom" + rng.randbytes(3000))
        elif case != "missing_video":
            frames = (_frame(v, height, width, i) for i in range(lo, hi))
            if v.clip_uid is None and video_start_sec:
                v.start_sec = video_start_sec
                start = round(video_start_sec / TIME_BASE)
                write_mp4(v.path, frames, fps, gop=15, bframes=2, time_base=TIME_BASE, start_pts=start)
            else:
                write_mp4(v.path, frames, fps, gop=15, bframes=2)
        videos.append(v)

    narration_file = root / "v2" / "annotations" / "narration.json"
    narration_file.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        v.uid: {p: {"narrations": v.narrations[p], "summaries": v.summaries[p]} for p in passes}
        for v in sorted(videos, key=lambda v: v.path.name)  # file order is not the sorted uid order
    }
    narration_file.write_text(json.dumps(doc, indent=1))

    metadata_file = None
    if metadata:
        metadata_file = root / "ego4d.json"
        meta = {
            "version": "v2",
            "videos": [
                {
                    "video_uid": v.uid,
                    "duration_sec": v.duration_s,
                    "scenarios": ["Cooking"],
                    "is_stereo": v.is_stereo,
                    "video_metadata": {
                        "fps": float(fps),
                        "num_frames": v.num_frames,
                        "video_duration_sec": v.duration_s,
                        "video_start_sec": v.start_sec,
                        "display_resolution_width": width * (2 if v.is_stereo else 1),
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


def _frame(v: Ego4DVideo, height: int, width: int, index: int) -> np.ndarray:
    left = synthetic_frame(height, width, index, v.seed)
    return np.concatenate([left, right_eye_frame(height, width, index, v.seed)], axis=1) if v.is_stereo else left


# -- Goal-Step -------------------------------------------------------------------------------------------------------

GOALSTEP_BAD_CASES = ("end_before_start", "no_description", "past_end", "no_video_uid")
# (start, end) as fractions of the video, description, category, is_relevant, substeps as (start, end, description):
# a substep ending past its step and one starting before it, integer times, a step without substeps, descriptions
# with a trailing blank and with "\n-", as in the maker's val file (facebookresearch/ego4d-goalstep data/).
STEPS = (
    ((0.0, 0.25), "Toast bread", "General cooking activity: Toast bread", "essential",
     ((0.0, 0.12), (0.12, 0.26)), ("preheat the stove-top", "toast bread")),
    ((0.3, 0.5), "Organize the table ", "General kitchen activity: Set the dining table", "optional", (), ()),
    ((0.55, 0.95), "remove groceries from bag\n- arrange grocery items", "Bake: Shape the dough", "irrelevant",
     ((0.54, 0.7), (0.7, 0.82), (0.82, 0.95)), ("weigh the dough", "shape dough ", "place dough in baking sheet")),
)  # fmt: skip


@dataclass
class GoalStepSegment:
    """One Goal-Step episode as written: its raw id, video seconds, text, nested (start, end, text) and, for a bad
    one, the field its reason must name."""

    raw_id: str
    uid: str
    level: str
    start: float
    end: float
    text: str
    nested: list[tuple[float, float, str]] = field(default_factory=list)
    bad_field: str | None = None


@dataclass
class GoalStepFixture:
    files: dict[str, Path]  # split -> file
    segments: list[GoalStepSegment]

    @property
    def good(self) -> list[GoalStepSegment]:
        return [s for s in self.segments if s.bad_field is None]


def _seg(start: float, end: float, text: str, category: str, relevant: str, **more: object) -> dict:
    return {
        "start_time": start,
        "end_time": end,
        "step_category": category,
        "step_description": text,
        "is_continued": False,
        "is_procedural": bool(more.get("segments")),
        "is_relevant": relevant,
        "summary": [text.strip()] if more.get("segments") else [],
        **more,
    }


def write_goalstep(corpus: Ego4DFixture, *, val: Iterable[int] = (), bad: Iterable[str] = ()) -> GoalStepFixture:
    """Goal-Step annotations of `corpus`'s videos, in the maker's schema, under `v2/annotations/`:
    `goalstep_train.json` (videos not in `val`), `goalstep_valid.json` (indices in `val`) and an unlabelled
    `goalstep_test.json` (`step_segments` only) naming the first video. Each video gets one goal covering
    `[video_start_sec, video_start_sec + duration]` (the real files' goal span) with the `STEPS` layout; `bad` cases
    go into the first good video's goal: a step and a substep with end < start, a blank description, a step past the
    video end; `no_video_uid` adds an entry without `video_uid`. Videos of `corpus` written bad (`missing_video`)
    get a goal too."""
    bad = list(bad)
    unknown = set(bad) - set(GOALSTEP_BAD_CASES)
    if unknown:
        raise ValueError(f"unknown Goal-Step bad case(s) {sorted(unknown)}; known: {GOALSTEP_BAD_CASES}")
    val, docs = set(val), {"train": [], "val": []}
    segments: list[GoalStepSegment] = []
    first_good = next(k for k, v in enumerate(corpus.videos) if v.bad is None)
    for k, v in enumerate(corpus.videos):
        split = "val" if k in val else "train"
        d, base, gfield = v.duration_s, f"{v.uid}/goalstep_{split}", f"videos[{len(docs[split])}]"
        steps = []
        for i, ((a, b), text, cat, rel, subs, sub_texts) in enumerate(STEPS):
            nested = [(round(sa * d, 5), round(sb * d, 5), t) for (sa, sb), t in zip(subs, sub_texts, strict=True)]
            subsegs = [_seg(sa, sb, t, cat, "essential") for sa, sb, t in nested]  # no segments key, as written
            start, end = (0 if i == 0 else round(a * d, 5)), round(b * d, 5)  # an integer time, as written
            steps.append(_seg(start, end, text, cat, rel, segments=subsegs))
            bad_field = None if v.bad is None else "video"
            segments.append(GoalStepSegment(f"{base}/{i:03d}", v.uid, "step", start, end, text, nested, bad_field))
            segments += [
                GoalStepSegment(f"{base}/{i:03d}/{j:03d}", v.uid, "substep", sa, sb, t, [], bad_field)
                for j, (sa, sb, t) in enumerate(nested)
            ]
        if k == first_good:
            steps += _bad_steps(bad, steps, d, base, gfield, v.uid, segments)
        docs[split].append(
            {
                "video_uid": v.uid,
                "start_time": v.start_sec,
                "end_time": v.start_sec + d,
                "goal_category": "COOKING:MAKE_BREAD",
                "goal_description": "Makes the bread",
                "goal_wikihow_url": "https://www.wikihow.com/Make-a-Quick-Homemade-Bread",
                "summary": [s["step_description"] for s in steps[:3]],
                "is_procedural": True,
                "segments": steps,
            }
        )
    if "no_video_uid" in bad:
        docs["val"].append({"start_time": 0, "end_time": 1.0, "goal_description": "Makes tea", "segments": []})
        k = len(docs["val"]) - 1
        raw_id, why = f"no-video-uid-{k:05d}/goalstep_val", f"videos[{k}].video_uid"
        segments.append(GoalStepSegment(raw_id, "", "goal", 0, 1, "", [], why))
    files = {}
    for split, name in (("train", "goalstep_train.json"), ("val", "goalstep_valid.json")):
        doc = {
            "version": "1.0",
            "date": "231129",
            "description": f"Ego4D Goal-Step ({split})",
            "split": split,
            "videos": docs[split],
        }
        files[split] = corpus.root / "v2" / "annotations" / name
        files[split].write_text(json.dumps(doc, indent=2))
    test = {
        "version": "1.0",
        "date": "231129",
        "description": "Ego4D Goal-Step (test)",
        "split": "test",
        "videos": [
            {
                "video_uid": corpus.videos[0].uid,
                "step_segments": [{"step_description": t, "segment_count": 1} for _, t, *_ in STEPS],
            }
        ],
    }
    files["test"] = corpus.root / "v2" / "annotations" / "goalstep_test.json"
    files["test"].write_text(json.dumps(test, indent=2))
    return GoalStepFixture(files, segments)


def _bad_steps(
    bad: list[str], steps: list[dict], d: float, base: str, gfield: str, uid: str, segments: list[GoalStepSegment]
) -> list[dict]:
    """The bad steps appended to a good goal (and a bad substep put into its first step), recorded in `segments`."""
    out = []

    def add(step: dict, why: str) -> None:
        i = len(steps) + len(out)
        out.append(step)
        segments.append(
            GoalStepSegment(
                f"{base}/{i:03d}",
                uid,
                "step",
                step["start_time"],
                step["end_time"],
                step["step_description"],
                [],
                f"{gfield}.segments[{i}].{why}",
            )
        )

    if "end_before_start" in bad:
        add(
            _seg(round(0.6 * d, 5), round(0.4 * d, 5), "Wash bowl", "Clean: Wash bowls", "unsure", segments=[]),
            "end_time",
        )
        sub = _seg(round(0.2 * d, 5), round(0.1 * d, 5), "trash kitchen waste", "Clean: Dispose", "essential")
        steps[0]["segments"].append(sub)
        j = len(steps[0]["segments"]) - 1
        segments.append(
            GoalStepSegment(
                f"{base}/000/{j:03d}",
                uid,
                "substep",
                sub["start_time"],
                sub["end_time"],
                sub["step_description"],
                [],
                f"{gfield}.segments[0].segments[{j}].end_time",
            )
        )
    if "no_description" in bad:
        add(
            _seg(round(0.1 * d, 5), round(0.2 * d, 5), "  ", "General activity: Use phone", "unsure", segments=[]),
            "step_description",
        )
    if "past_end" in bad:
        add(
            _seg(round(0.9 * d, 5), round(d + 2.0, 5), "Clean floor with mop", "Clean: Floor", "unsure", segments=[]),
            "end_time",
        )
    return out
