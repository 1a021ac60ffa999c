"""Ego4D Goal-Step: steps and substeps as episodes over their [start, end] (frames inside it, the description as the
task, substeps as `action_config`, the goal in the metadata) and every bad entry refused by file, video and field. On
the maker's own annotations (real sample `ego4d_goalstep_excerpt`, two entries of facebookresearch/ego4d-goalstep
`data/goalstep_valid.json`, values verbatim): every step and substep becomes an episode, the real quirks (a goal ending
past the video by its start offset, substeps reaching outside their step, integer times) are read as documented; the
videos are stand-ins with the durations the goal spans give. Through the real Ray ingest job: each step and substep is
written with its description as the task and its substeps as `action_config`; each bad entry is a quarantine row."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from adapters.base import AdapterError, EpisodeRef
from adapters.ego4d.adapter import Ego4DAdapter
from adapters.ego4d_goalstep.adapter import GoalStepAdapter, GoalStepOptions
from adapters.lerobot_format.files import read_jsonl
from adapters.synthetic.ego4d import Ego4DFixture, write_ego4d
from adapters.synthetic.video import synthetic_frame, write_mp4
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonicalize import CanonicalizeSpec
from schemas.lerobot import EPISODES_PATH
from tests.adapters.ego4d.conftest import check_frames, psnr
from tests.fixtures.corrupt import write_ego4d_bad
from tests.fixtures.ego4d_goalstep import GOALSTEP_BAD_CASES, GoalStepFixture, GoalStepSegment, write_goalstep
from tests.fixtures.offline import prepared
from tests.fixtures.writers.ego4d import starting_at
from tests.realdata import realdata


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ego4DFixture, GoalStepFixture]:
    videos = write_ego4d_bad(
        tmp_path_factory.mktemp("goalstep"), ["missing_video"], num_videos=2, duration_s=12.0, narrations_per_video=2
    )
    return videos, write_goalstep(videos, val=[1], bad=GOALSTEP_BAD_CASES)


def refs_by_id(root: Path, options: dict | None = None) -> dict[str, EpisodeRef]:
    return {r.raw_id: r for r in GoalStepAdapter(options).discover(root)}


def file_segment(path: Path, field: str) -> dict:
    """The segment at `videos[k].segments[i]...` in the written file, as written."""
    node: object = json.loads(path.read_text())
    for part in field.replace("]", "").split("."):
        key, _, index = part.partition("[")
        node = node[key][int(index)]  # type: ignore[index]
    return node  # type: ignore[return-value]


def test_every_written_segment_is_one_episode_or_one_named_refusal(corpus: tuple) -> None:
    videos, gs = corpus
    refs = list(GoalStepAdapter().discover(videos.root))
    assert refs == list(GoalStepAdapter().discover(videos.root))  # stable
    ids = [r.raw_id for r in refs]
    assert ids == sorted(ids) and sorted(ids) == sorted(s.raw_id for s in gs.segments)  # nothing skipped, no extra
    assert {r.raw_id for r in refs if r.error is None} == {s.raw_id for s in gs.good}
    assert len(gs.good) == 16 and len(gs.segments) - len(gs.good) == 13  # 2 good videos x 8; 8 missing-video + 5


def test_default_splits_name_the_unread_test_file_and_the_narrations_stay_the_other_source(
    corpus: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    videos, gs = corpus
    with caplog.at_level(logging.WARNING, logger="adapters.ego4d_goalstep.adapter"):
        ids = list(refs_by_id(videos.root, {}))
    assert any("goalstep_test.json" in r.getMessage() and "no step times" in r.getMessage() for r in caplog.records)
    assert sorted(ids) == sorted(s.raw_id for s in gs.segments)  # the same root's narrations are not cut here
    narrations = [r.raw_id for r in Ego4DAdapter().discover(videos.root)]
    assert len(narrations) == 2 * len(videos.videos) and all("/narration_pass_1/" in i for i in narrations)


def test_step_and_substep_frames_lie_in_their_window_and_the_task_is_the_description(corpus: tuple) -> None:
    videos, gs = corpus
    refs, adapter = refs_by_id(videos.root), GoalStepAdapter()
    for seg in gs.good:
        raw = adapter.read(refs[seg.raw_id])
        video = videos.video(seg.uid)
        assert raw.metadata["window_sec"] == pytest.approx([seg.start, min(seg.end, video.duration_s)])
        cam = raw.cameras["full_scale"]
        times = cam.timestamps + seg.start  # video seconds of the frames
        assert times[0] >= seg.start - 1e-6 and times[-1] < seg.end + 1e-6
        assert len(cam) == pytest.approx((seg.end - seg.start) * video.fps, abs=1.01)
        assert check_frames(raw, video, videos) == len(cam)  # the written frames at those video times
        assert raw.language[0].kind == "instruction" and raw.language[0].text == seg.text  # verbatim
        (ep,) = prepared(raw, CanonicalizeSpec())
        assert ep.task == seg.text.strip() and ep.tier.value == "actionless"
        assert raw.metadata["goalstep_level"] == seg.level and raw.metadata["video_uid"] == seg.uid


def test_substeps_are_the_steps_action_config_and_survive_canonicalization(corpus: tuple) -> None:
    videos, gs = corpus
    refs, adapter = refs_by_id(videos.root), GoalStepAdapter()
    steps = [s for s in gs.good if s.level == "step"]
    assert {len(s.nested) for s in steps} == {0, 2, 3}
    for seg in steps:
        raw = adapter.read(refs[seg.raw_id])
        fps = raw.native_fps
        path = Path(refs[seg.raw_id].paths[1])
        written = file_segment(path, raw.metadata["goalstep_field"])
        assert raw.metadata["segment"] == {k: v for k, v in written.items() if k != "segments"}
        assert [
            {k: v for k, v in n.items() if k not in ("level", "field", "step_index")}
            for n in raw.metadata["nested_segments"]
        ] == written["segments"]
        good_nested = [n for n in seg.nested if n[1] > n[0]]
        config = raw.action_config or []
        assert [c.action_text for c in config] == [t for _, _, t in good_nested]
        for c, (s, e, _) in zip(config, good_nested, strict=True):
            assert c.start_frame == round((max(s, seg.start) - seg.start) * fps)  # clipped to the step
            assert c.end_frame == min(round((min(e, seg.end) - seg.start) * fps), round((seg.end - seg.start) * fps))
            assert (c.model_extra["start_time"], c.model_extra["end_time"]) == (s, e)  # video seconds kept
            assert c.model_extra["level"] == "substep" and "step_category" in c.model_extra
        if config:
            (ep,) = prepared(raw, CanonicalizeSpec())
            assert [c.action_text for c in ep.action_config] == [c.action_text for c in config]
            for c, (s, _, _) in zip(ep.action_config, good_nested, strict=True):  # at the 10 Hz grid
                assert c.start_frame == pytest.approx((max(s, seg.start) - seg.start) * 10, abs=1)
                assert c.end_frame <= ep.num_frames
    clipped = [s for s in steps if any(n[0] < s.start or n[1] > s.end for n in s.nested)]
    assert len(clipped) == 4  # both quirks (a substep before its step, one past it) on both videos


def test_substep_keeps_its_parent_step_and_the_goal(corpus: tuple) -> None:
    videos, gs = corpus
    refs, adapter = refs_by_id(videos.root), GoalStepAdapter()
    seg = next(s for s in gs.good if s.level == "substep")
    raw = adapter.read(refs[seg.raw_id])
    path = Path(refs[seg.raw_id].paths[1])
    goal_field = raw.metadata["goalstep_field"].split(".")[0]
    goal = file_segment(path, goal_field)
    assert raw.metadata["goal"] == {k: v for k, v in goal.items() if k != "segments"}
    parent = file_segment(path, raw.metadata["goalstep_field"].rsplit(".", 1)[0])
    assert raw.metadata["parent_step"] == {k: v for k, v in parent.items() if k != "segments"}
    assert raw.action_config is None and raw.metadata["nested_segments"] == []
    assert [(lang.kind, lang.text) for lang in raw.language] == [
        ("instruction", seg.text),
        ("description", goal["goal_description"]),
    ]


@pytest.mark.parametrize("case", [c for c in GOALSTEP_BAD_CASES] + ["missing_video"])
def test_bad_entries_are_refused_naming_file_video_and_field(corpus: tuple, case: str) -> None:
    videos, gs = corpus
    refs, adapter = refs_by_id(videos.root), GoalStepAdapter()
    missing = next(v for v in videos.videos if v.bad == "missing_video")
    first = next(v for v in videos.videos if v.bad is None)
    bad: list[GoalStepSegment] = [s for s in gs.segments if s.bad_field is not None]
    if case == "missing_video":
        chosen = [s for s in bad if s.uid == missing.uid]
    elif case == "no_video_uid":
        chosen = [s for s in bad if not s.uid]
    else:
        suffix = {"end_before_start": ".end_time", "no_description": ".step_description", "past_end": ".end_time"}
        chosen = [s for s in bad if s.uid == first.uid and s.bad_field.endswith(suffix[case])]
        chosen = [s for s in chosen if (s.end < s.start) == (case == "end_before_start")]
    assert chosen
    for seg in chosen:
        assert refs[seg.raw_id].error
        with pytest.raises(AdapterError) as info:
            adapter.read(refs[seg.raw_id])
        err = info.value
        assert err.episode == seg.raw_id and err.adapter == "ego4d_goalstep"
        if case == "missing_video":
            assert (err.field, err.file) == ("video", str(missing.path))
            assert missing.uid in err.reason and "not on disk" in err.reason and "goalstep_train.json" in err.reason
        else:
            assert err.field == seg.bad_field and err.file.endswith(("goalstep_train.json", "goalstep_valid.json"))
            assert seg.uid in err.reason or case == "no_video_uid"
    if case == "end_before_start":  # the bad substep is named in its step's metadata, not cut into action_config
        step = adapter.read(refs[f"{first.uid}/goalstep_train/000"])
        (left,) = step.metadata["not_in_action_config"]
        assert left["field"] == "videos[0].segments[0].segments[2]" and "not after start_time" in left["reason"]


def test_goal_level_spans_the_video_and_holds_steps_and_substeps(tmp_path: Path) -> None:
    videos = write_ego4d(tmp_path, num_videos=1, duration_s=4.0, narrations_per_video=1)
    starting_at(videos, 0.021)
    write_goalstep(videos)
    (video,) = videos.videos
    ((raw_id, ref),) = refs_by_id(tmp_path, {"levels": ["goal"]}).items()
    assert raw_id == f"{video.uid}/goalstep_train" and ref.error is None
    raw = GoalStepAdapter().read(ref)
    assert raw.metadata["window_sec"] == pytest.approx([0.021, 4.0])  # written to 4.021 (start + duration), clipped
    assert raw.metadata["clipped_end_sec"] == pytest.approx(0.021)
    assert raw.language[0].text == "Makes the bread"
    levels = [c.model_extra["level"] for c in raw.action_config]
    assert levels == ["step"] * 3 + ["substep"] * 5
    assert check_frames(raw, video, videos) > 100


def test_steps_outside_a_downloaded_clip_are_refused_the_others_read_from_it(tmp_path: Path) -> None:
    videos = write_ego4d(tmp_path, num_videos=1, duration_s=12.0, narrations_per_video=1, clip_video=True)
    gs = write_goalstep(videos)
    (video,) = videos.videos
    lo, hi = video.clip_start_frame / video.fps, (video.clip_start_frame + video.clip_frames) / video.fps
    refs = refs_by_id(tmp_path)
    for seg in gs.segments:
        inside = seg.start >= lo and seg.end <= hi
        assert (refs[seg.raw_id].error is None) == inside, seg.raw_id
        if inside:
            raw = GoalStepAdapter().read(refs[seg.raw_id])
            assert raw.metadata["clip_uid"] == video.clip_uid and check_frames(raw, video, videos) > 10
        else:
            assert "no downloaded clip" in refs[seg.raw_id].error and video.uid in refs[seg.raw_id].error
    assert sum(r.error is None for r in refs.values()) == 2  # in the clip (20-80 %): step 30-50 %, substep 54-70 %


def test_test_split_has_no_times_and_each_video_is_refused_by_name(corpus: tuple) -> None:
    videos, _ = corpus
    refs = refs_by_id(videos.root, {"splits": ["test"]})
    (ref,) = refs.values()
    assert ref.raw_id == f"{videos.videos[0].uid}/goalstep_test"
    assert "no step times" in ref.error and "videos[0].step_segments" in ref.error
    assert ref.error.count("goalstep_test.json") == 1


def test_options_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown split"):
        GoalStepOptions(files={"dev": "x.json"})
    write_ego4d(tmp_path, num_videos=1, duration_s=1.0, narrations_per_video=1)
    with pytest.raises(AdapterError, match=r"no Goal-Step file .*goalstep_train\.json.*goalstep_valid\.json") as info:
        list(GoalStepAdapter().discover(tmp_path))
    assert info.value.field == "goalstep"
    with pytest.raises(AdapterError, match=r"no Goal-Step val file .*goalstep_val\.json") as info:
        list(GoalStepAdapter({"splits": ["val"]}).discover(tmp_path))  # a split named must be there
    assert info.value.field == "goalstep_val"


def test_val_file_under_either_name_and_a_video_with_two_goals(tmp_path: Path) -> None:
    videos = write_ego4d(tmp_path, num_videos=1, duration_s=12.0, narrations_per_video=1)
    gs = write_goalstep(videos, val=[0])
    doc = json.loads(gs.files["val"].read_text())
    second = {**doc["videos"][0], "goal_description": "Cleans up", "segments": doc["videos"][0]["segments"][1:2]}
    doc["videos"].append(second)  # the same video_uid twice in one file: both goals kept, apart by `.1`
    gs.files["val"].unlink()
    (gs.files["val"].parent / "goalstep_val.json").write_text(json.dumps(doc))
    uid = videos.videos[0].uid
    found = refs_by_id(tmp_path, {"levels": ["step"]})
    assert sorted(found) == [f"{uid}/goalstep_val.1/000", *(f"{uid}/goalstep_val/{i:03d}" for i in range(3))]
    raw = GoalStepAdapter().read(found[f"{uid}/goalstep_val.1/000"])
    assert raw.metadata["goal"]["goal_description"] == "Cleans up" and raw.metadata["goalstep_field"] == (
        "videos[1].segments[0]"
    )
    assert raw.language[0].text == doc["videos"][0]["segments"][1]["step_description"]


LONG, SHORT = "c2d06df7-5d3a-4116-9edb-f1c81a4f669b", "6bb4a311-a05b-413e-879c-1c30809e62d4"


START = 0.0210286458333333  # LONG's goal start_time: the canonical video_start_sec (Ego4D Examples Notebook)


H, W = 32, 48


FPS = {LONG: 2, SHORT: 10}  # sparse stand-ins: only the times matter


SEED = {LONG: 1.0, SHORT: 2.0}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("goalstep_real")
    (root / "v2/annotations").mkdir(parents=True)
    shutil.copy(realdata("ego4d_goalstep_excerpt/goalstep_valid.json"), root / "v2/annotations")
    # durations as the goal spans give them: LONG's goal is [START, START + 5052.9], SHORT's [0, 51.77]
    spans = {LONG: (5052.9, START, 280.0), SHORT: (51.77, 0.0, 51.77)}  # duration, start, seconds written
    meta = {
        "videos": [
            {
                "video_uid": uid,
                "is_stereo": False,
                "video_metadata": {"fps": float(FPS[uid]), "video_duration_sec": d, "video_start_sec": s},
            }
            for uid, (d, s, _) in spans.items()
        ]
    }
    (root / "ego4d.json").write_text(json.dumps(meta))
    for uid, (_, _, seconds) in spans.items():
        frames = (synthetic_frame(H, W, i, SEED[uid]) for i in range(round(seconds * FPS[uid])))
        write_mp4(root / "v2/full_scale" / f"{uid}.mp4", frames, FPS[uid], gop=10)
    return root


def refs(root: Path, **options: object) -> dict[str, EpisodeRef]:
    return {r.raw_id: r for r in GoalStepAdapter(options).discover(root)}


def test_every_real_step_and_substep_is_an_episode(root: Path) -> None:
    doc = json.loads((realdata("ego4d_goalstep_excerpt/goalstep_valid.json")).read_text())
    expected = []
    for goal in doc["videos"]:
        for i, step in enumerate(goal["segments"]):
            expected.append((f"{goal['video_uid']}/goalstep_val/{i:03d}", step["step_description"]))
            expected += [
                (f"{goal['video_uid']}/goalstep_val/{i:03d}/{j:03d}", s["step_description"])
                for j, s in enumerate(step["segments"])
            ]
    found = refs(root)
    assert sorted(found) == sorted(i for i, _ in expected) and len(found) == 15  # 5 + 8 substeps, 2
    assert not [r.error for r in found.values() if r.error]
    for raw_id, text in expected:
        assert found[raw_id].locator["segment"]["step_description"] == text


def test_goal_ending_past_the_video_by_its_start_offset_is_clipped_not_refused(root: Path) -> None:
    goals = refs(root, levels=["goal"])
    long = goals[f"{LONG}/goalstep_val"]
    assert long.error is None and long.locator["window_sec"] == pytest.approx([START, 5052.9])
    assert long.locator["clipped_end_sec"] == pytest.approx(START, abs=1e-6)
    assert [n["level"] for n in long.locator["nested"]] == ["step"] * 5 + ["substep"] * 8
    tight = refs(root, levels=["goal"], end_tolerance_s=0.01)[f"{LONG}/goalstep_val"]
    assert "end_time 5052.921 is past the end of video" in tight.error and "videos[0].end_time" in tight.error


def test_real_step_with_substeps_outside_it(root: Path) -> None:
    ref = refs(root)[f"{LONG}/goalstep_val/004"]  # "Prepares the bread" [81.10459, 269], substeps 81.01371 .. 270
    raw = GoalStepAdapter().read(ref)
    fps, n = raw.native_fps, round((269 - 81.10459) * 2)
    assert (
        raw.language[0].text == "Prepares the bread" and raw.metadata["goal"]["goal_category"] == "COOKING:MAKE_BREAD"
    )
    config = raw.action_config
    assert len(config) == 8 and [c.action_text for c in config][:2] == ["weigh the dough"] * 2
    assert config[0].start_frame == 0 and config[0].model_extra["start_time"] == 81.01371  # starts before its step
    assert config[-1].end_frame == n and config[-1].model_extra["end_time"] == 270  # ends after it: clipped
    assert config[1].start_frame == round((97.3678 - 81.10459) * fps)
    assert [c.start_frame for c in config] == sorted(c.start_frame for c in config)


def test_real_steps_frames_lie_in_their_window(root: Path) -> None:
    found = refs(root)
    steps = {"000": (0, 27.20017, "Wash bowl"), "001": (28.02337, 48.00322, "Arrange counter-top")}  # as written
    for index, (s, e, text) in steps.items():
        raw = GoalStepAdapter().read(found[f"{SHORT}/goalstep_val/{index}"])
        cam = raw.cameras["full_scale"]
        times = cam.timestamps + s
        assert raw.language[0].text == text and times[0] >= s and times[-1] < e
        assert len(cam) == pytest.approx((e - s) * FPS[SHORT], abs=1.01)
        for i, rgb in cam.frames([0, len(cam) // 2, len(cam) - 1]):
            k = round(times[i] * FPS[SHORT])
            assert psnr(rgb, synthetic_frame(H, W, k, SEED[SHORT])) > 30
            assert np.all(np.isfinite(rgb))


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_goalstep_steps_and_substeps_are_ingested_and_bad_entries_quarantined(tmp_path: Path) -> None:
    videos = write_ego4d_bad(
        tmp_path / "ego4d", ["missing_video"], num_videos=1, duration_s=12.0, narrations_per_video=1
    )
    gs = write_goalstep(videos, bad=["end_before_start"])
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "goalstep", "adapter": "ego4d_goalstep", "root": str(videos.root)}],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["goalstep"].written == len(gs.good) == 8
    assert report.quarantined == len(gs.segments) - len(gs.good) == 10  # 8 of the missing video, 2 end < start

    lines = [line for _, line in read_jsonl(tmp_path / "corpus/datasets/goalstep/default" / EPISODES_PATH)]
    by_id = {line["eidata"]["raw_id"]: line for line in lines}
    assert set(by_id) == {s.raw_id for s in gs.good}
    for seg in gs.good:
        line = by_id[seg.raw_id]
        assert line["tasks"] == [seg.text.strip()]
        texts = [c["action_text"] for c in line.get("action_config") or []]
        assert texts == [t for s, e, t in seg.nested if e > s]  # the bad substep (end < start) is not cut in
        for c in line.get("action_config") or []:
            assert 0 <= c["start_frame"] < c["end_frame"] <= line["length"] and c["level"] == "substep"
        # the goal the segment serves rides in the lineage, as the maker wrote it, with the segment's own place
        note = line["eidata"]["source_annotation"]
        assert list(note) == ["kind", "level", "split", "file", "field", "goal", "parent_step"]  # GoalStepAnnotation
        assert note["kind"] == "ego4d_goalstep" and note["level"] == seg.level
        assert note["goal"]["goal_description"] == "Makes the bread" and "segments" not in note["goal"]
        assert note["file"].endswith("goalstep_train.json") and note["field"].startswith("videos[")

    sql = "SELECT episode_uid, field, file, message FROM quarantine ORDER BY 1"
    rows = run_query(tmp_path / "corpus", sql).to_pylist()
    expected = {s.raw_id: s for s in gs.segments if s.bad_field}
    assert {r["episode_uid"] for r in rows} == {f"goalstep/default/{i}" for i in expected}
    for r in rows:
        seg = expected[r["episode_uid"].removeprefix("goalstep/default/")]
        assert seg.uid in r["message"]
        if seg.bad_field == "video":
            assert r["field"] == "video" and r["file"].endswith(f"{seg.uid}.mp4") and "not on disk" in r["message"]
        else:
            assert r["field"] == seg.bad_field and r["file"].endswith("goalstep_train.json")
