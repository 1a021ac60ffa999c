"""Adding a source is one module: an adapter defined here, outside the package, goes through the real Ray ingest job.

Nothing in `ingest/` or `jobs/` knows it: the job spec names it by import path, each Ray worker imports it, and its
`read` declares which streams are the hand. The toy format: one `.npz` per episode with a 20 Hz end-effector track.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from scipy.spatial.transform import Rotation

from adapters.base import EpisodeRef, HandSignals, HandTrack, Language, RawEpisode, Stream
from adapters.lerobot_format.files import read_jsonl
from adapters.registry import adapter_names
from adapters.source_adapter import SourceAdapter
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import SpecError, load_spec
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lerobot import EPISODES_PATH
from schemas.tiers import QualityTier

ADAPTER = f"{__name__}:ToyAdapter"
HZ = 20.0


class ToyAdapter(SourceAdapter):
    """`<root>/<episode>.npz` holding `t` (s), `xyz` (m), `quat` (xyzw), `width` (m, 0..0.08) and `task`."""

    name: ClassVar[str] = "toy_npz"

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        for path in sorted(Path(root).glob("*.npz")):
            yield EpisodeRef(
                adapter=self.name, source=self.name, subset="default", raw_id=path.stem, paths=(str(path),)
            )

    def read(self, ref: EpisodeRef) -> RawEpisode:
        with np.load(ref.paths[0]) as z:
            t, xyz, quat, width, task = z["t"], z["xyz"], z["quat"], z["width"], str(z["task"])
        states = {
            "eef/xyz": Stream(t, xyz, unit="m", frame="robot_base"),
            "eef/quat": Stream(t, quat, unit="quat_xyzw", frame="robot_base"),
            "gripper/width": Stream(t, width, unit="m"),
        }
        opening = Stream(t, np.clip(width / 0.08, 0, 1))
        hands = HandSignals(
            hands={1: HandTrack(position=states["eef/xyz"], rotation=states["eef/quat"], gripper=opening)}
        )
        return RawEpisode(
            ref=ref,
            robot_type="toy_arm",
            embodiment="franka",
            tier=QualityTier.high,
            native_fps=HZ,
            states=states,
            language=[Language(task)],
            hands=hands,
        )


def _write_raw(root: Path, episodes: int = 3, n: int = 60) -> dict[str, dict[str, np.ndarray]]:
    root.mkdir(parents=True)
    out = {}
    for k in range(episodes):
        t = np.arange(n) / HZ
        s = np.linspace(0, 1, n)[:, None]
        xyz = np.array([0.45, -0.1 + 0.05 * k, 0.35]) + s * np.array([0.1, 0.15, -0.2])
        rot = Rotation.from_euler("xyz", np.column_stack([np.full(n, np.pi), 0.2 * s[:, 0], 0.5 * s[:, 0]]))
        width = np.where(s[:, 0] < 0.5, 0.08, 0.01)
        ep = {"t": t, "xyz": xyz, "quat": rot.as_quat(), "width": width}
        np.savez(root / f"ep{k}.npz", **ep, task=np.array(f"reach target {k}"))
        out[f"ep{k}"] = ep
    return out


def _spec(tmp: Path, raw: Path, adapter: str = ADAPTER) -> Path:
    spec = {
        "output": str(tmp / "corpus"),
        "sources": [{"name": "toy", "adapter": adapter, "root": str(raw)}],
        "parallelism": {"num_cpus": 2},
    }
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_an_adapter_outside_the_package_is_ingested_end_to_end(tmp_path: Path) -> None:
    episodes = _write_raw(tmp_path / "raw")
    assert "toy_npz" not in adapter_names()  # never registered: the import path names it
    report = run_ingest(load_spec(_spec(tmp_path, tmp_path / "raw")), progress=False)
    assert report.tallies["toy"].written == 3 and report.quarantined == 0

    rows = run_query(tmp_path / "corpus", "SELECT episode_uid, tier, has_action, num_frames FROM episodes ORDER BY 1")
    assert rows.column("episode_uid").to_pylist() == ["toy/default/ep0", "toy/default/ep1", "toy/default/ep2"]
    assert set(rows.column("tier").to_pylist()) == {"high"} and all(rows.column("has_action").to_pylist())

    dataset = tmp_path / "corpus/datasets/toy/default"
    for (_, line), (raw_id, ep) in zip(read_jsonl(dataset / EPISODES_PATH), sorted(episodes.items()), strict=True):
        assert line["eidata"]["raw_id"] == raw_id and line["tasks"] == [f"reach target {raw_id[-1]}"]
        mask = np.asarray(line["eidata"]["mask"], bool)
        assert mask[hand_dims(1, WRIST_POS)].all() and mask[hand_dims(1, GRIPPER)].all()
        assert not mask[hand_dims(0, slice(0, 25))].any()  # the left hand was never declared
        table = pq.read_table(dataset / f"data/chunk-000/episode_{line['episode_index']:06d}.parquet")
        state = np.stack(table.column("observation.state").to_numpy(zero_copy_only=False))
        # the 20 Hz track at 10 Hz: every other sample, same positions (franka: the recorded point is the wrist)
        np.testing.assert_allclose(state[:, hand_dims(1, WRIST_POS)], ep["xyz"][::2][: len(state)], atol=1e-5)
        grip = state[:, hand_dims(1, GRIPPER)].ravel()
        np.testing.assert_allclose(grip, np.clip(ep["width"][::2][: len(state)] / 0.08, 0, 1), atol=1e-6)
        assert np.abs(state[:, hand_dims(1, WRIST_ROT6D)]).sum() > 0
    assert json.loads((dataset / "meta/info.json").read_text())["robot_type"] == "franka"


def test_a_bad_import_path_is_a_spec_error_naming_it(tmp_path: Path) -> None:
    _write_raw(tmp_path / "raw", episodes=1)
    with pytest.raises(SpecError, match=r"tests\.adapters\.nope:Toy.*cannot import"):
        load_spec(_spec(tmp_path, tmp_path / "raw", adapter="tests.adapters.nope:Toy"))
