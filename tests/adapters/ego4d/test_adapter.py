"""Ego4D adapter: narration windows (the `#C`/`#O`/`#unsure` text conventions, one window around each narration
clipped to its video, overlapping windows merged into one episode, unsure narrations dropped on request), lazy windowed
decoding, options (a spec still giving the Goal-Step options is refused naming ego4d_goalstep), bad input."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from adapters.base import AdapterError, EpisodeRef
from adapters.ego4d.adapter import Ego4DAdapter, Ego4DOptions
from adapters.registry import get_adapter
from adapters.synthetic.ego4d import PASSES, Ego4DFixture, Ego4DVideo, write_ego4d
from adapters.synthetic.video import synthetic_frame
from jobs.spec import SpecError, load_spec
from schemas.canonical import Camera
from schemas.narration import parse_narration
from schemas.tiers import SOURCE_NO_ACTION, QualityTier, tier_of
from tests.adapters.ego4d.conftest import BOTH, check_frames, narration_of, psnr
from tests.fixtures.corrupt import write_ego4d_bad
from tests.fixtures.writers.ego4d import without_metadata

# -- narration text --------------------------------------------------------------------------------------------------


# -- discovery -------------------------------------------------------------------------------------------------------


def test_discovery_sorted_stable_one_episode_per_narration(corpus: Ego4DFixture) -> None:
    adapter = get_adapter("ego4d", BOTH)
    first, second = list(adapter.discover(corpus.root)), list(adapter.discover(corpus.root))
    assert first == second
    ids = [r.raw_id for r in first]
    expected = [f"{v.uid}/{p}/{i:05d}" for v in corpus.videos for p in PASSES for i in range(len(v.narrations[p]))]
    assert ids == sorted(ids) == sorted(expected)
    assert all(r.error is None for r in first)
    only_first = [r.raw_id for r in Ego4DAdapter().discover(corpus.root)]  # default: narration_pass_1
    assert only_first == [i for i in ids if "/narration_pass_1/" in i]


def test_discovery_opens_no_video_when_ego4d_json_gives_durations(
    corpus: Ego4DFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("discovery must not open a video")

    monkeypatch.setattr(av, "open", refuse)
    refs = list(Ego4DAdapter().discover(corpus.root))
    assert len(refs) == sum(len(v.narrations["narration_pass_1"]) for v in corpus.videos) and not any(
        r.error for r in refs
    )


def test_durations_from_mp4_headers_without_ego4d_json(tmp_path: Path, corpus: Ego4DFixture) -> None:
    bare = without_metadata(write_ego4d(tmp_path))  # same seed: the same first video (full scale in both)
    uid = corpus.videos[0].uid
    assert not bare.metadata_file.exists() and bare.videos[0].uid == uid
    with_meta = {r.raw_id: r.locator["window_sec"] for r in Ego4DAdapter().discover(corpus.root) if uid in r.raw_id}
    without = {r.raw_id: r.locator["window_sec"] for r in Ego4DAdapter().discover(bare.root) if uid in r.raw_id}
    assert len(with_meta) == 4 and with_meta.keys() == without.keys()
    for raw_id, window in with_meta.items():
        assert without[raw_id] == pytest.approx(window, abs=1e-3)
    assert max(w[1] for w in without.values()) == pytest.approx(corpus.videos[0].duration_s, abs=1e-3)


# -- reading ---------------------------------------------------------------------------------------------------------


def test_read_gives_window_frames_narration_and_actionless_defaults(corpus: Ego4DFixture) -> None:
    adapter = get_adapter("ego4d", BOTH)
    for ref in adapter.discover(corpus.root):
        raw = adapter.read(ref)
        video = corpus.video(ref.locator["video_uid"])
        written = narration_of(video, ref)
        start, end = raw.metadata["window_sec"]
        assert (raw.embodiment, tier_of(raw.tier, raw.verdicts), raw.native_fps) == (
            "human_video",
            QualityTier.actionless,
            30.0,
        )
        assert [v.code for v in raw.verdicts] == [SOURCE_NO_ACTION]  # a verdict, overruled by its code
        assert not raw.states and not raw.actions and not raw.has_action
        (narration,) = [lang for lang in raw.language if lang.kind == "narration"]
        assert narration.text == written["narration_text"]  # raw text, #C / #unsure kept
        assert narration.start_s == narration.end_s == pytest.approx(written["timestamp_sec"] - start)
        (summary,) = [lang for lang in raw.language if lang.kind == "summary"]
        assert summary.text.startswith("#Summary") and summary.start_s == 0.0
        (meta,) = raw.metadata["narrations"]
        assert meta["clean"] == parse_narration(written["narration_text"])["clean"]
        assert meta["annotation_uid"] == written["annotation_uid"]
        cam = next(iter(raw.cameras.values()))
        assert cam.canonical is Camera.head and (cam.height, cam.width) == (corpus.height, corpus.width)
        assert cam.timestamps.dtype == np.float64 and np.all(np.diff(cam.timestamps) > 0)
        assert cam.timestamps[0] >= 0 and cam.timestamps[-1] < end - start
        assert len(cam) == pytest.approx((end - start) * video.fps, abs=1.01)
        assert raw.duration_s == pytest.approx(cam.timestamps[-1])


def test_frames_are_the_written_frames_of_the_window(corpus: Ego4DFixture) -> None:
    adapter = get_adapter("ego4d", BOTH)
    refs = list(adapter.discover(corpus.root))
    for video in corpus.videos:
        ref = next(r for r in refs if r.raw_id.startswith(video.uid + "/narration_pass_1/00001"))
        raw = adapter.read(ref)
        assert next(iter(raw.cameras)) == ("clips" if video.clip_uid else "full_scale")
        assert check_frames(raw, video, corpus) > 60
    wrong = synthetic_frame(corpus.height, corpus.width, 0, corpus.videos[0].seed + 7)
    first = next(next(iter(adapter.read(refs[0]).cameras.values())).frames())[1]
    assert psnr(first, wrong) < 20  # the comparison can fail


def test_late_window_is_decoded_from_a_seek_not_from_the_start(corpus: Ego4DFixture) -> None:
    adapter = Ego4DAdapter()
    video = corpus.videos[0]
    ref = next(r for r in adapter.discover(corpus.root) if r.raw_id == f"{video.uid}/narration_pass_1/00003")
    cam = adapter.read(ref).cameras["full_scale"]
    start_frame = round(ref.locator["window_sec"][0] * video.fps)
    assert start_frame > 60
    wanted = [0, len(cam) // 2]
    got = [i for i, _ in cam.frames(wanted)]
    assert got == wanted
    assert cam.decoded <= len(cam) // 2 + 1 + 15  # pre-roll from the keyframe (gop 15) at most
    assert cam.decoded < start_frame


# -- options ---------------------------------------------------------------------------------------------------------


def test_missing_narration_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        AdapterError, match=r"no narration\.json under the root \(looked for narration\.json, v2/"
    ) as info:
        list(Ego4DAdapter().discover(tmp_path))
    assert info.value.adapter == "ego4d" and info.value.field == "narration.json"


def test_window_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="window_s"):
        Ego4DOptions(window_s=(1.0, -1.0))


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("annotations", ["goalstep"], "adapter ego4d reads narration.json, adapter ego4d_goalstep"),
        ("goalstep_splits", ["val"], "adapter ego4d_goalstep, option splits"),
        ("goalstep_end_tolerance_s", 1.0, "adapter ego4d_goalstep, option end_tolerance_s"),
    ],
)
def test_a_spec_still_giving_goal_step_options_is_refused_at_the_key(
    corpus: Ego4DFixture, tmp_path: Path, key: str, value: object, words: str
) -> None:
    source = {"name": "ego4d", "adapter": "ego4d", "root": str(corpus.root), "options": {key: value}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump({"output": str(tmp_path / "out"), "sources": [source]}))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "job.yaml")
    (issue,) = info.value.errors
    assert issue.loc == f"sources[0].options.{key}" and words in issue.message and issue.line == 6


# -- bad input -------------------------------------------------------------------------------------------------------


def bad_corpus(tmp_path: Path, case: str, metadata: bool = True) -> tuple[Ego4DFixture, Ego4DVideo, list[EpisodeRef]]:
    corpus = write_ego4d_bad(tmp_path, [case], num_videos=1, duration_s=3.0, narrations_per_video=3)
    corpus = corpus if metadata else without_metadata(corpus)
    bad = next(v for v in corpus.videos if v.bad == case)
    return corpus, bad, list(Ego4DAdapter(BOTH).discover(corpus.root))


def assert_others_readable(corpus: Ego4DFixture, refs: list[EpisodeRef], bad_ids: set[str]) -> None:
    others = [r for r in refs if r.raw_id not in bad_ids]
    assert others and all(r.error is None for r in others)
    adapter = Ego4DAdapter(BOTH)
    for ref in others:
        assert check_frames(adapter.read(ref), corpus.video(ref.locator["video_uid"]), corpus) > 0


def test_narration_for_a_missing_video(tmp_path: Path) -> None:
    corpus, bad, refs = bad_corpus(tmp_path, "missing_video")
    bad_refs = [r for r in refs if r.raw_id.startswith(bad.uid)]
    assert len(bad_refs) == 6 and all(r.error and bad.uid in r.error for r in bad_refs)
    with pytest.raises(AdapterError) as info:
        Ego4DAdapter(BOTH).read(bad_refs[0])
    err = info.value
    assert (err.adapter, err.episode, err.field) == ("ego4d", bad_refs[0].raw_id, "video")
    assert err.file.endswith(f"v2/full_scale/{bad.uid}.mp4") and "not on disk" in err.reason
    assert_others_readable(corpus, refs, {r.raw_id for r in bad_refs})


@pytest.mark.parametrize("metadata", [True, False], ids=["ego4d.json", "header"])
def test_unreadable_mp4(tmp_path: Path, metadata: bool) -> None:
    corpus, bad, refs = bad_corpus(tmp_path, "corrupt_video", metadata=metadata)
    bad_refs = [r for r in refs if r.raw_id.startswith(bad.uid)]
    assert len(bad_refs) == 6
    # with ego4d.json discovery never opens the file; without it the header probe fails at discovery
    assert all((r.error is None) is metadata for r in bad_refs)
    with pytest.raises(AdapterError, match="unreadable mp4") as info:
        Ego4DAdapter(BOTH).read(bad_refs[-1])
    err = info.value
    assert (err.episode, err.field, err.file) == (bad_refs[-1].raw_id, "video", str(bad.path))
    assert_others_readable(corpus, refs, {r.raw_id for r in bad_refs})


def test_narration_past_the_video_end(tmp_path: Path) -> None:
    corpus, bad, refs = bad_corpus(tmp_path, "past_end")
    past = {f"{bad.uid}/{p}/{i:05d}" for p in PASSES for i, n in enumerate(bad.narrations[p]) if n["timestamp_sec"] > 3}
    assert len(past) == 2  # one per pass, at a different index in pass 2 (not sorted by time)
    assert {r.raw_id for r in refs if r.error} == past
    ref = next(r for r in refs if r.raw_id in past)
    with pytest.raises(AdapterError, match="past the end") as info:
        Ego4DAdapter(BOTH).read(ref)
    err = info.value
    assert err.episode == ref.raw_id and err.file == str(corpus.narration_file)
    _, pass_name, index = ref.raw_id.split("/")
    assert err.field == f"{bad.uid}.{pass_name}.narrations[{int(index)}].timestamp_sec"
    assert_others_readable(corpus, refs, past)  # includes the good narrations of the same video


def test_narration_without_a_timestamp(tmp_path: Path) -> None:
    corpus = write_ego4d(tmp_path, num_videos=1, narrations_per_video=3)
    doc = json.loads(corpus.narration_file.read_text())
    uid = corpus.videos[0].uid
    doc[uid]["narration_pass_1"]["narrations"][1]["timestamp_sec"] = None
    corpus.narration_file.write_text(json.dumps(doc))
    refs = list(Ego4DAdapter().discover(corpus.root))
    assert [r.raw_id for r in refs if r.error] == [f"{uid}/narration_pass_1/00001"]
    with pytest.raises(AdapterError, match="timestamp_sec is None") as info:
        Ego4DAdapter().read(refs[1])
    assert info.value.field == f"{uid}.narration_pass_1.narrations[1].timestamp_sec"
    assert_others_readable(corpus, refs, {refs[1].raw_id})


def test_max_episodes_keeps_the_first_episodes_in_order(corpus: Ego4DFixture) -> None:
    full = [r.raw_id for r in Ego4DAdapter().discover(corpus.root)]
    for n in (1, 3, len(full) + 1):
        assert [r.raw_id for r in Ego4DAdapter({"max_episodes": n}).discover(corpus.root)] == full[:n]


# -- narration windows -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subject", "unsure", "clean"),
    [
        ("#C C picks up the cup", "C", False, "C picks up the cup"),
        ("#O man X hands a knife to C", "O", False, "man X hands a knife to C"),
        ("#C C places the #unsure on the shelf", "C", True, "C places the on the shelf"),
        ("#c C turns on the tap #Unsure", "C", True, "C turns on the tap"),
        ("C looks around", None, False, "C looks around"),
    ],
)
def test_parse_narration(text: str, subject: str | None, unsure: bool, clean: str) -> None:
    assert parse_narration(text) == {"subject": subject, "unsure": unsure, "clean": clean}


def test_windows_are_clipped_around_each_narration(corpus: Ego4DFixture) -> None:
    for ref in get_adapter("ego4d", BOTH).discover(corpus.root):
        video = corpus.video(ref.locator["video_uid"])
        t = narration_of(video, ref)["timestamp_sec"]
        lo, hi = (0.0, video.duration_s)
        if video.clip_uid:
            lo, hi = video.clip_start_frame / video.fps, (video.clip_start_frame + video.clip_frames) / video.fps
        assert ref.locator["window_sec"] == pytest.approx([max(t - 1.0, lo), min(t + 2.0, hi)])


def test_merge_overlapping_makes_one_episode_per_run(corpus: Ego4DFixture) -> None:
    video = corpus.videos[0]
    merged = [r for r in Ego4DAdapter({"merge_overlapping": True}).discover(corpus.root) if video.uid in r.raw_id]
    assert [r.raw_id for r in merged] == [f"{video.uid}/narration_pass_1/00000-00003"]  # windows of 3 s, 1 s apart
    raw = Ego4DAdapter({"merge_overlapping": True}).read(merged[0])
    texts = [lang.text for lang in raw.language if lang.kind == "narration"]
    assert texts == [n["narration_text"] for n in video.narrations["narration_pass_1"]]
    assert raw.metadata["window_sec"] == pytest.approx([0.0, video.duration_s])
    narrow = Ego4DAdapter({"merge_overlapping": True, "window_s": (-0.2, 0.3)}).discover(corpus.root)
    assert len([r for r in narrow if video.uid in r.raw_id]) == 4


def test_drop_unsure_keeps_the_other_ids(corpus: Ego4DFixture) -> None:
    every = {r.raw_id for r in Ego4DAdapter(BOTH).discover(corpus.root)}
    kept = {r.raw_id for r in Ego4DAdapter({**BOTH, "drop_unsure": True}).discover(corpus.root)}
    unsure = {
        f"{v.uid}/{p}/{i:05d}"
        for v in corpus.videos
        for p in PASSES
        for i, n in enumerate(v.narrations[p])
        if "#unsure" in n["narration_text"]
    }
    assert unsure and kept == every - unsure
