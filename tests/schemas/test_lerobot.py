"""pydantic models of the LeRobot v2.1 meta files: byte-exact round trip of lerobot 0.3.3's output, tolerant reading."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from adapters.lerobot_format.files import load_entries, load_info, read_jsonl
from schemas.lerobot import (
    EpisodeEntry,
    EpisodeStatsEntry,
    InfoJson,
    MetaFileError,
    TaskEntry,
    dump_info,
    dump_jsonl_line,
    dump_lines,
    fill_path_template,
)
from schemas.lerobot_features import DEFAULT_FEATURE_DTYPES, default_features

# Verbatim what lerobot 0.3.3 wrote (`LeRobotDataset.create` + `save_episode`, read back from its files).
INFO_JSON = """{
    "codebase_version": "v2.1",
    "robot_type": "testbot",
    "total_episodes": 2,
    "total_frames": 40,
    "total_tasks": 2,
    "total_videos": 2,
    "total_chunks": 1,
    "chunks_size": 1000,
    "fps": 30,
    "splits": {
        "train": "0:2"
    },
    "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
    "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
    "features": {
        "observation.images.cam_high": {
            "dtype": "video",
            "shape": [
                64,
                64,
                3
            ],
            "names": [
                "height",
                "width",
                "channels"
            ],
            "info": {
                "video.height": 64,
                "video.width": 64,
                "video.codec": "av1",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": false,
                "video.fps": 30,
                "video.channels": 3,
                "has_audio": false
            }
        },
        "observation.state": {
            "dtype": "float32",
            "shape": [
                7
            ],
            "names": [
                "j0",
                "j1",
                "j2",
                "j3",
                "j4",
                "j5",
                "j6"
            ]
        },
        "action": {
            "dtype": "float32",
            "shape": [
                7
            ],
            "names": [
                "j0",
                "j1",
                "j2",
                "j3",
                "j4",
                "j5",
                "j6"
            ]
        },
        "timestamp": {
            "dtype": "float32",
            "shape": [
                1
            ],
            "names": null
        },
        "frame_index": {
            "dtype": "int64",
            "shape": [
                1
            ],
            "names": null
        },
        "episode_index": {
            "dtype": "int64",
            "shape": [
                1
            ],
            "names": null
        },
        "index": {
            "dtype": "int64",
            "shape": [
                1
            ],
            "names": null
        },
        "task_index": {
            "dtype": "int64",
            "shape": [
                1
            ],
            "names": null
        }
    }
}"""

EPISODES_JSONL = (
    '{"episode_index": 0, "tasks": ["pick up the cube"], "length": 20}\n'
    '{"episode_index": 1, "tasks": ["open the drawer"], "length": 20}\n'
)
TASKS_JSONL = '{"task_index": 0, "task": "pick up the cube"}\n{"task_index": 1, "task": "open the drawer"}\n'
EPISODES_STATS_LINE_0 = '{"episode_index": 0, "stats": {"observation.images.cam_high": {"min": [[[0.0]], [[0.0]], [[0.0]]], "max": [[[1.0]], [[0.6235294117647059]], [[0.6235294117647059]]], "mean": [[[0.5134033681832109]], [[0.3117514935661765]], [[0.3117691099877451]]], "std": [[[0.2706479867016457]], [[0.1811404294091451]], [[0.18110531737080246]]], "count": [20]}, "observation.state": {"min": [-1.5107600688934326, -2.2641077041625977, -2.7923684120178223, -3.49996018409729, -0.9281172752380371, -1.4511034488677979, -1.9185631275177002], "max": [2.1419215202331543, 2.2112271785736084, 2.0091938972473145, 2.3719429969787598, 1.1590057611465454, 1.8792439699172974, 0.7600948214530945], "mean": [0.04011748358607292, 0.0322592556476593, 0.07344531267881393, 0.4125138819217682, -0.10603847354650497, 0.1174948588013649, -0.01868678815662861], "std": [1.0689142942428589, 1.1207280158996582, 1.0456113815307617, 1.284089207649231, 0.6418094635009766, 0.9623703360557556, 0.6274040341377258], "count": [20]}, "action": {"min": [-1.6824588775634766, -2.26987361907959, -1.9831271171569824, -2.438056468963623, -2.760469436645508, -1.2491682767868042, -0.9610647559165955], "max": [2.419849395751953, 1.7408530712127686, 1.8138954639434814, 1.788527250289917, 1.7297207117080688, 1.9600039720535278, 2.60762095451355], "mean": [0.21191366016864777, -0.4401947557926178, 0.0742902085185051, 0.05102606862783432, -0.1525772362947464, 0.1384786069393158, 0.17803539335727692], "std": [1.164755940437317, 1.014404535293579, 0.923250138759613, 1.0853813886642456, 1.0292373895645142, 0.8431424498558044, 0.9814438223838806], "count": [20]}, "timestamp": {"min": [0.0], "max": [0.6333333333333333], "mean": [0.3166666666666666], "std": [0.1922093765778466], "count": [20]}, "frame_index": {"min": [0], "max": [19], "mean": [9.5], "std": [5.766281297335398], "count": [20]}, "episode_index": {"min": [0], "max": [0], "mean": [0.0], "std": [0.0], "count": [20]}, "index": {"min": [0], "max": [19], "mean": [9.5], "std": [5.766281297335398], "count": [20]}, "task_index": {"min": [0], "max": [0], "mean": [0.0], "std": [0.0], "count": [20]}}}\n'  # noqa: E501


# ---------------------------------------------------------------------------------------------------------------
# Byte-exact round trip of the lerobot 0.3.3 example.


def test_info_json_round_trip_is_byte_exact() -> None:
    assert len(INFO_JSON.encode()) == 2472  # the size of lerobot 0.3.3's file: no trailing newline
    info = InfoJson.model_validate_json(INFO_JSON)
    assert dump_info(info) == INFO_JSON
    assert info.fps == 30 and info.video_keys == ["observation.images.cam_high"]
    assert list(info.features)[-5:] == list(DEFAULT_FEATURE_DTYPES)
    assert info.features["observation.images.cam_high"].video_info.codec == "av1"
    assert info.data_file(1) == "data/chunk-000/episode_000001.parquet"
    assert info.video_file(1, "observation.images.cam_high") == (
        "videos/chunk-000/observation.images.cam_high/episode_000001.mp4"
    )


def test_info_json_round_trip_through_files(tmp_path) -> None:
    (tmp_path / "info.json").write_text(INFO_JSON, encoding="utf-8")
    assert dump_info(load_info(tmp_path / "info.json")) == INFO_JSON


@pytest.mark.parametrize(
    ("text", "model"),
    [(EPISODES_JSONL, EpisodeEntry), (TASKS_JSONL, TaskEntry), (EPISODES_STATS_LINE_0, EpisodeStatsEntry)],
    ids=["episodes", "tasks", "episodes_stats"],
)
def test_jsonl_round_trip_is_byte_exact(tmp_path, text: str, model: type) -> None:
    lines = text.splitlines(keepends=True)
    entries = [model.model_validate_json(line) for line in lines]
    assert [dump_jsonl_line(e.to_json()) for e in entries] == lines
    path = tmp_path / "meta.jsonl"
    path.write_text(text, encoding="utf-8")
    assert dump_lines(load_entries(path, model)) == text


def test_episodes_stats_values_survive() -> None:
    entry = EpisodeStatsEntry.model_validate_json(EPISODES_STATS_LINE_0)
    cam = entry.stats["observation.images.cam_high"]
    assert cam.min == [[[0.0]], [[0.0]], [[0.0]]] and cam.count == [20]
    assert entry.stats["frame_index"].max == [19]
    assert entry.stats["timestamp"].max == [0.6333333333333333]
    assert list(entry.stats) == list(json.loads(EPISODES_STATS_LINE_0)["stats"])


def test_default_features_match_lerobot() -> None:
    info = InfoJson.model_validate_json(INFO_JSON)
    expected = {k: info.features[k].to_json() for k in DEFAULT_FEATURE_DTYPES}
    assert {k: f.to_json() for k, f in default_features().items()} == expected


# ---------------------------------------------------------------------------------------------------------------
# Tolerant reading.


def test_float_fps_is_written_as_int_when_integral() -> None:
    raw = json.loads(INFO_JSON)
    raw["fps"] = 20.0
    assert json.loads(dump_info(InfoJson.model_validate(raw)))["fps"] == 20
    raw["fps"] = 29.97
    assert json.loads(dump_info(InfoJson.model_validate(raw)))["fps"] == 29.97


def _episode(length: int, segments: list[dict]) -> EpisodeEntry:
    return EpisodeEntry.model_validate(
        {"episode_index": 3, "tasks": ["t"], "length": length, "action_config": segments}
    )


def test_action_config_valid_segments_round_trip() -> None:
    segs = [
        {"start_frame": 0, "end_frame": 12, "action_text": "reach", "skill": "Pick"},
        {"start_frame": 12, "end_frame": 20, "action_text": "lift"},
    ]
    ep = _episode(20, segs)  # a segment may end exactly at the episode length
    assert [s.action_text for s in ep.action_config] == ["reach", "lift"]
    assert ep.to_json()["action_config"] == segs  # extra segment keys kept


@pytest.mark.parametrize(
    ("segment", "needle"),
    [
        ({"start_frame": 10, "end_frame": 5, "action_text": "x"}, "greater than start_frame"),
        ({"start_frame": 5, "end_frame": 5, "action_text": "x"}, "greater than start_frame"),
        ({"start_frame": 10, "end_frame": 21, "action_text": "x"}, "past the episode length 20"),
        ({"start_frame": -1, "end_frame": 3, "action_text": "x"}, "greater than or equal to 0"),
    ],
    ids=["end_before_start", "empty", "past_length", "negative_start"],
)
def test_action_config_invalid_segments_rejected(segment: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        _episode(20, [segment])


def test_extra_keys_preserved_on_write() -> None:
    raw = json.loads(INFO_JSON)
    raw["data_files_size_in_mb"] = 100
    raw["features"]["observation.state"]["fps"] = 30
    raw["features"]["observation.images.cam_high"]["info"]["audio.codec"] = "aac"
    info_out = json.loads(dump_info(InfoJson.model_validate(raw)))
    assert info_out == raw
    assert list(info_out)[-1] == "data_files_size_in_mb"  # extras follow lerobot's keys

    ep = {"episode_index": 0, "tasks": ["t"], "length": 5, "lineage": {"source": "droid", "raw_id": "x/1"}}
    assert EpisodeEntry.model_validate(ep).to_json() == ep
    task = {"task_index": 0, "task": "t", "language": "en"}
    assert TaskEntry.model_validate(task).to_json() == task
    stats = json.loads(EPISODES_STATS_LINE_0)
    stats["stats"]["action"]["q01"] = [0.0] * 7
    stats["note"] = "recomputed"
    assert EpisodeStatsEntry.model_validate(stats).to_json() == stats


def test_torn_jsonl_line_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "episodes.jsonl"
    path.write_text(EPISODES_JSONL + '{"episode_index": 2, "tas', encoding="utf-8")
    with pytest.raises(ValueError, match=r"episodes\.jsonl:3: not valid JSON"):
        list(read_jsonl(path))


def test_non_ascii_task_written_unescaped() -> None:
    entry = TaskEntry(task_index=0, task="把杯子放在盘子上")
    assert dump_jsonl_line(entry.to_json()) == '{"task_index": 0, "task": "把杯子放在盘子上"}\n'


@pytest.mark.parametrize("body", [b"{not json", b'{"fps": 10,', b"\xff\xfe{}"])
def test_an_info_json_that_does_not_parse_names_its_file(tmp_path, body: bytes) -> None:
    """Python's json parses info.json (pydantic's Rust parser aborts under a memory limit); its error names no file,
    so load_info names it, as every meta file's error does (a torn write, a truncated copy, another encoding)."""
    (tmp_path / "info.json").write_bytes(body)
    with pytest.raises(MetaFileError, match=r"info\.json: not valid JSON"):
        load_info(tmp_path / "info.json")


def test_a_path_template_is_parsed_once_for_every_episode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 99: an export's plan fills its datasets' two templates for each of a million episodes' files; parsing the
    template again at each (string.Formatter, ~10 us) was a quarter of a dry run's CPU. Its checks stay: a placeholder
    that is no bare name is refused at every ask."""
    import string

    calls: list[str] = []
    parse = string.Formatter.parse
    monkeypatch.setattr(string.Formatter, "parse", lambda self, t: calls.append(t) or parse(self, t))
    template = "data/chunk-{episode_chunk:03d}/test_parsed_once_{episode_index:06d}.parquet"
    paths = [fill_path_template(template, i, i // 1000) for i in range(2_000)]
    assert paths[1999] == "data/chunk-001/test_parsed_once_001999.parquet"
    assert calls.count(template) == 1
    for _ in range(2):
        with pytest.raises(ValueError, match="not a bare name"):
            fill_path_template("data/{episode_index.__class__}_once.parquet", 0, 0)
    with pytest.raises(ValueError, match="leaves the dataset root"):
        fill_path_template("./../data/{episode_index}.parquet", 0, 0)


@pytest.mark.parametrize(
    "template",
    [
        "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",  # lerobot's own: checked once
        "videos/chunk-{chunk_index}/{video_key}/train-{episode_index:05d}-of-{total_episodes:05d}.mp4",
        "data/{episode_index:.>7}/x.parquet",  # a part of dots and digits: checked per episode
        "data/{episode_index:x}.parquet",  # hex: checked per episode
    ],
)
def test_a_template_filled_for_many_episodes_gives_each_episodes_path(template: str) -> None:
    """Issue 99: `fill_path_templates` is `fill_path_template` of each episode, its checks made once where the
    template's numbers are digits, else per episode (a spec with a fill character could write a '.' part)."""
    from schemas.lerobot import fill_path_templates

    episodes = [0, 7, 999, 1000, 123_456, 5]
    want = [fill_path_template(template, i, i // 100, "observation.images.head", None, 200_000) for i in episodes]
    assert fill_path_templates(template, episodes, 100, "observation.images.head", 200_000) == want
    assert fill_path_templates(template, [], 100) == []


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("../data/{episode_index:06d}.parquet", "leaves the dataset root"),
        ("data/{episode_index.real}.parquet", "not a bare name"),
        ("data/{episode_number:06d}.parquet", "is none of"),
        ("data/{episode_index:\\>2}.parquet", "leaves the dataset root"),  # 12 fits, 3 is written '\\3'
    ],
)
def test_a_template_refused_for_one_episode_is_refused_for_many(template: str, error: str) -> None:
    from schemas.lerobot import fill_path_templates

    episodes = [12, 3, 0]
    with pytest.raises(ValueError, match=error):
        for i in episodes:
            fill_path_template(template, i, 0)
    with pytest.raises(ValueError, match=error):
        fill_path_templates(template, episodes, 1000)
