"""One LeRobot v2.1 dataset written from the tiny corpus's manifest (conftest.py) in the consumer layout: a data file
and a byte-identical mp4 per episode (the clip's, at another size, resized),
renumbered indices, the plan's episode columns in episodes.jsonl, the source's
episode stats where the values are the source's and per-dimension stats for the flattened keypoints; lerobot 0.3.3 and
lerobot 0.6.1's converter take it (`test_clients.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.corpus import Corpus
from jobs.export.lerobot_v3.plan import manifest_plan
from jobs.export.lerobot_v3.write_v21 import V21Writer
from schemas.canonical import HAND_KEYPOINTS, STATE
from schemas.export_layout import ACTION_MASK_COLUMN
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH

HEAD = "observation.images.head"


@pytest.fixture(scope="module")
def written(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("v21") / "all"
    plan = manifest_plan(Corpus(tiny_corpus), "all", None)
    writer = V21Writer(out, plan)
    for ref in plan.episodes:
        writer.add(ref)
    return {"plan": plan, "info": writer.finish(plan.splits), "out": out}


def test_a_file_per_episode_renumbered(written: dict) -> None:
    plan, out = written["plan"], written["out"]
    info = load_info(out / "meta" / "info.json")
    assert info.codebase_version == "v2.1" and info.total_episodes == len(plan.episodes) == 6
    assert info.total_videos == 6 and info.features[HAND_KEYPOINTS].shape == (126,)
    start = 0
    for i, ref in enumerate(plan.episodes):
        table = pq.read_table(out / info.data_file(i))
        src = pq.read_table(ref.source.data_file(ref.episode_index))
        assert table["episode_index"].to_pylist() == [i] * len(src)
        assert table["index"].to_pylist() == list(range(start, start + len(src)))
        assert table[STATE].to_pylist() == src[STATE].to_pylist()
        kp = np.stack(table[HAND_KEYPOINTS].to_numpy(zero_copy_only=False)).reshape(-1, 2, 21, 3)
        assert kp.tolist() == src[HAND_KEYPOINTS].to_pylist()
        mp4, written = ref.source.video_file(ref.episode_index, HEAD), out / info.video_file(i, HEAD)
        if HEAD in ref.resize:  # the clip: its frames at the manifest's size
            with av.open(str(written)) as c:
                assert (c.streams.video[0].height, c.streams.video[0].width) == (32, 48)
                assert c.streams.video[0].frames == len(src) or sum(1 for _ in c.decode(video=0)) == len(src)
        else:
            assert written.read_bytes() == Path(str(mp4)).read_bytes()
        start += len(src)
    assert info.total_frames == start


def test_episode_columns_and_stats(written: dict) -> None:
    plan, out = written["plan"], written["out"]
    lines = [o for _, o in read_jsonl(out / EPISODES_PATH)]
    assert [line["episode_uid"] for line in lines] == [r.extra["episode_uid"] for r in plan.episodes]
    assert [line[ACTION_MASK_COLUMN] for line in lines] == [r.extra[ACTION_MASK_COLUMN] for r in plan.episodes]
    stats = [o["stats"] for _, o in read_jsonl(out / EPISODES_STATS_PATH)]
    for st, ref in zip(stats, plan.episodes, strict=True):
        source = ref.source.stats[ref.episode_index]
        assert st[STATE] == source[STATE] and st["frame.interpolated"] == source["observation.interpolated"]
        assert len(st[HAND_KEYPOINTS]["mean"]) == 126  # per dimension, where the canonical pooled them to 3
        assert st["index"]["count"] == source["index"]["count"]
        assert (st[HEAD] == source[HEAD]) == (HEAD not in ref.resize)  # a resized camera's: of its new frames
    assert json.loads((out / "meta" / "info.json").read_text())["splits"] == {"train": "0:6"}
