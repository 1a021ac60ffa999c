"""The catalog's `camera_models` column: each camera's lens model per episode, from the lineage the ingest wrote.
Egocentric-10K shards in the dataset's layout, one worker with the card's fisheye `intrinsics.json`, one without; a
HOT3D Aria sequence whose RGB camera is FISHEYE624 (its MPS calibration's parameters, in the stream's pixels)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.egovideo.adapter import EgoVideoAdapter
from adapters.hot3d.adapter import Hot3DAdapter
from adapters.lerobot_format.files import read_jsonl
from adapters.synthetic.hot3d import write_hot3d
from ingest.canonical.store import dataset_features
from ingest.lerobot.writer import LeRobotWriter
from jobs.catalog.rows import dataset_rows
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared
from tests.fixtures.writers.egovideo import BUILDAI_INTRINSICS, write_ego_variants
from tests.needs import tool_missing


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ego_catalog")
    files = {"worker_001": json.dumps(BUILDAI_INTRINSICS).encode()}
    raw = write_ego_variants(
        base / "raw", workers=2, clips_per_shard=1, seconds=1.5, fps=10, height=64, width=114, intrinsics=files
    )
    adapter = EgoVideoAdapter()
    episodes = [ep for ref in adapter.discover(raw.root) for ep in prepared(adapter.read(ref), CanonicalizeSpec())]
    assert len(episodes) == 2
    dataset = base / "corpus" / "datasets" / "ego_video" / "default"
    with LeRobotWriter.create(dataset, fps=10, features=dataset_features(episodes[0]), robot_type="human") as w:
        for ep in episodes:
            write_episode(w, ep)
    return base / "corpus"


def test_each_episode_names_its_lens_model(corpus: Path) -> None:
    dataset = corpus / "datasets" / "ego_video" / "default"
    rows = sorted(dataset_rows(corpus, dataset)[0], key=lambda r: r.episode_index)
    by_worker = {("worker_001" in r.episode_uid): r for r in rows}
    assert by_worker[True].camera_models == ["kannala_brandt"] and by_worker[True].cameras == ["head"]
    assert by_worker[False].camera_models == ["none"]
    # the coefficients as the file gave them, in the written lineage; the file was for 456x256, the video 114x64
    lines = [EpisodeLineage.of(line) for _, line in read_jsonl(dataset / EPISODES_PATH)]
    (fish,) = [lin.camera_models for lin in lines if lin.camera_models]
    lens = fish["observation.images.head"]
    assert [lens[k] for k in ("k1", "k2", "k3", "k4")] == [BUILDAI_INTRINSICS[k] for k in ("k1", "k2", "k3", "k4")]
    assert (lens["width"], lens["height"]) == (114, 64) and lens["fx"] == pytest.approx(BUILDAI_INTRINSICS["fx"] / 4)


def test_a_hot3d_aria_episode_names_its_fisheye624_lens(tmp_path: Path) -> None:
    try:
        import projectaria_tools  # noqa: F401
    except ImportError:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    fx = write_hot3d(tmp_path / "raw", video=True)
    seq = next(s for s in fx.good if s.headset == "Aria")
    adapter = Hot3DAdapter()
    (ep,) = prepared(adapter.read(next(r for r in adapter.discover(fx.root) if r.raw_id == seq.raw_id)))
    dataset = tmp_path / "corpus" / "datasets" / "hot3d" / "aria"
    with LeRobotWriter.create(dataset, fps=10, features=dataset_features(ep), robot_type="human") as w:
        write_episode(w, ep)
    (row,) = dataset_rows(tmp_path / "corpus", dataset)[0]
    assert row.camera_models == ["fisheye624"] and row.cameras == ["head"]
    ((_, line),) = read_jsonl(dataset / EPISODES_PATH)
    lens = EpisodeLineage.of(line).camera_models["observation.images.head"]
    assert [lens[k] for k in ("fx", "cx", "cy")] == list(seq.rgb_params[:3]) and lens["s3"] == seq.rgb_params[-1]
    assert (lens["width"], lens["height"]) == (352, 352) and row.qa_hands_in_image == 1.0
