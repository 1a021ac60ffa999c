"""`eidata ingest` of array recordings, end to end through the Ray ingest job with `adapter: zarr` and `adapter:
arrays`: a zipped UMI-style buffer and ACT / ALOHA episodes written here in the makers' layouts (always), and the real
samples of test_real.py (PushT, a raw robosuite demo, a buffer without its data
group). Checked on the written LeRobot v2.1 episodes: one per episode end / demo / file, 10 Hz, natives equal to the
source rows at k/10 s, video frames the stored images, the rate's origin in the lineage, the refused store
quarantined with what it lacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
import zarr

from adapters.arrays.stores import open_store
from adapters.lerobot_format.files import read_jsonl
from adapters.storage.location import locate
from ingest.lerobot.video_read import decode_frames
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonical import GRIPPER, hand_dims
from schemas.corpus import QUARANTINE_DIR
from schemas.lerobot import EPISODES_PATH
from tests.adapters.arrays.conftest import PUSHT
from tests.fixtures.writers.arrays import write_aloha, write_umi
from tests.realdata import awaited, realdata

pytestmark = pytest.mark.shared_ray


# the real samples of test_real.py, read where they are, each its own source (one still awaited is left out)
REAL = {
    "pusht": ("zarr", "diffusion_policy_pusht_zarr"),
    "robosuite": ("arrays", "robosuite_raw_lift"),
    "partial": ("zarr", "diffusion_policy_meta_only_zarr"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("arrays_ingest")
    (tmp / "umi").mkdir(), (tmp / "aloha").mkdir()
    write_umi(tmp / "umi" / "dataset.zarr.zip", [40, 70])
    write_aloha(tmp / "aloha" / "episode_0.hdf5", 60)
    sources = [
        {"name": "umi", "adapter": "zarr", "root": str(tmp / "umi"), "options": {"fps": 30}},
        {"name": "aloha", "adapter": "arrays", "root": str(tmp / "aloha")},
    ]
    real = {name: realdata(folder) for name, (_, folder) in REAL.items() if not awaited(folder)}
    sources += [{"name": n, "adapter": REAL[n][0], "root": str(real[n])} for n in sorted(real)]
    spec = {"output": str(tmp / "corpus"), "sources": sources, "parallelism": {"num_cpus": 2}}
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    return tmp / "corpus", report, real


def _episodes(dataset: Path) -> dict[str, tuple[dict, pq.Table]]:
    out = {}
    for _, line in read_jsonl(dataset / EPISODES_PATH):
        table = pq.read_table(dataset / f"data/chunk-000/episode_{line['episode_index']:06d}.parquet")
        out[line["eidata"]["raw_id"]] = (line["eidata"], table)
    return out


def _native(dataset: Path, table: pq.Table, name: str) -> np.ndarray:
    names = json.loads((dataset / "meta/info.json").read_text())["features"]["observation.state.native"]["names"]
    values = np.stack(table.column("observation.state.native").to_numpy(zero_copy_only=False))
    return values[:, names.index(name)].astype(np.float64)


def test_synthetic_layouts_write_one_episode_each_at_10_hz(corpus) -> None:
    root, report, _ = corpus
    assert report.tallies["umi"].written == 2 and report.tallies["aloha"].written == 1
    umi = _episodes(root / "datasets/umi/umi")
    assert sorted(umi) == ["dataset.zarr/episode_0", "dataset.zarr/episode_1"]
    lineage, table = umi["dataset.zarr/episode_1"]
    assert lineage["raw_fps"] == 30 and lineage["source_annotation"]["rate_from"] == "option"
    assert table.num_rows == 10  # 30 rows at 30 Hz span 0.967 s: frames at 0.0 .. 0.9 s (rows 0, 3, .., 27)
    # UMI's recorded gripper pose and width are canonical hands: the action moves (issue 55 item 3)
    assert lineage["embodiment"] == "umi" and lineage["action_kind"] == "canonical" and lineage["tier"] != "actionless"
    action = np.stack(table.column("action").to_numpy(zero_copy_only=False))
    assert np.ptp(action[:, hand_dims(1, GRIPPER)]) > 0.01  # the right gripper's opening target moves
    with open_store(locate(root.parent / "umi" / "dataset.zarr.zip"), "zarr") as store:
        width = store.read("data/robot0_gripper_width", 40, 70)[::3, 0].astype(np.float64)
    assert np.allclose(_native(root / "datasets/umi/umi", table, "robot0_gripper_width.0"), width, atol=1e-6)
    ((lineage, table),) = _episodes(root / "datasets/aloha/aloha").values()
    assert lineage["raw_fps"] == 50 and lineage["source_annotation"]["rate_from"].startswith("default: ACT")
    assert table.num_rows == 12  # 60 rows at 50 Hz span 1.18 s: frames at 0.0 .. 1.1 s (rows 0, 5, .., 55)


def test_pusht_writes_its_episode_at_10_hz_with_natives_and_video(corpus) -> None:
    root, report, real = corpus
    if "pusht" not in real:
        realdata(PUSHT)  # skips, saying where the sample comes from
    assert report.tallies["pusht"].written == 1
    dataset = root / "datasets/pusht/diffusion_policy"
    assert json.loads((dataset / "meta/info.json").read_text())["fps"] == 10
    ((lineage, table),) = _episodes(dataset).values()
    g = zarr.open_group(realdata(PUSHT), mode="r")
    state = g["data/state"][:].astype(np.float64)
    assert table.num_rows == 763 == g["meta/episode_ends"][0]  # 10 Hz rows on a 10 Hz grid: one frame per row
    assert lineage["source_annotation"]["layout"] == "diffusion_policy" and lineage["raw_fps"] == 10
    assert np.allclose(_native(dataset, table, "state.agent_x"), state[:, 0], atol=1e-3)
    assert np.allclose(_native(dataset, table, "state.block_angle"), state[:, 4], atol=1e-5)
    video = dataset / "videos/chunk-000/observation.images.third_person/episode_000000.mp4"  # img: a scene view
    frames = dict(decode_frames(video, [0, 400, 762]))
    for i, rgb in frames.items():
        err = np.abs(rgb.astype(int) - g["data/img"][i].astype(int)).mean()
        assert rgb.dtype == np.uint8 and rgb.shape == (96, 96, 3) and err < 6, (i, err)


def test_robosuite_demos_at_20_hz_resampled(corpus) -> None:
    root, report, _ = corpus
    eps = _episodes(root / "datasets/robosuite/robosuite_raw")
    assert report.tallies["robosuite"].written == 4 and len(eps) == 4
    lineage, table = eps["1729277108_0358148/demo.hdf5/demo_1"]
    assert lineage["raw_fps"] == 20 and table.num_rows == 43  # 85 rows at 20 Hz: 0.0 .. 4.2 s at 10 Hz


def test_a_buffer_without_its_data_group_is_quarantined_naming_what_it_lacks(corpus) -> None:
    root, report, real = corpus
    if "partial" not in real:
        realdata("diffusion_policy_meta_only_zarr")
    assert report.tallies["partial"].written == 0
    rows = pq.read_table(root / QUARANTINE_DIR).to_pylist()
    (partial,) = [r for r in rows if r["source"] == "partial"]
    assert "diffusion_policy lacks data/action" in partial["message"] and partial["field"] == "layout"
