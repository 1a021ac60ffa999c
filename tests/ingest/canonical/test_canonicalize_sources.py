"""Every fixture source canonicalizes, writes and loads in the real lerobot 0.3.3 (subprocess oracle, see
`tests/oracle`): RLDS bridge (5 Hz) and fractal (3 Hz), AgiBot gripper and dexterous, EgoDex, Ego4D, a canonical
LeRobot dataset, and the real GR00T v2.0 sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import adapters
from adapters.synthetic.agibot import write_agibot
from adapters.synthetic.ego4d import write_ego4d
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.rlds import write_rlds
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from jobs.demo.robot import run_demo
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import QualityTier
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared
from tests.fixtures.specs import agibot_specs
from tests.realdata import realdata

SPEC = CanonicalizeSpec(min_episode_s=0.3)


def _raw_corpora(base: Path) -> dict[str, tuple[str, Path]]:
    out = {}
    for subset in ("bridge", "fractal20220817_data"):
        write_rlds(base / subset, subset, episodes=2, steps=12, vary_steps=False)
        out[subset] = ("oxe", next((base / subset).rglob("dataset_info.json")).parent)
    write_agibot(base / "agibot", agibot_specs(2, 1, 45, dexterous_tasks=(327,)))
    out["agibot"] = ("agibot", base / "agibot")
    write_egodex(base / "egodex", episodes_per_task=1, num_frames=45, old_episode=False)
    out["egodex"] = ("egodex", base / "egodex")
    write_ego4d(base / "ego4d", num_videos=1, duration_s=6.0, narrations_per_video=2)
    out["ego4d"] = ("ego4d", base / "ego4d")
    out["lerobot"] = ("lerobot", run_demo(base / "demo", episodes=2).root)  # real kinematics, canonical layout
    out["gr00t"] = ("lerobot", realdata("gr00t_robot_sim_picknplace"))
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[CanonicalEpisode]]:
    base = tmp_path_factory.mktemp("raw")
    return {
        name: [
            ep
            for ref in adapters.get_adapter(adapter).discover(root)
            if ref.error is None
            for ep in prepared(adapters.get_adapter(adapter).read(ref), SPEC)
        ]
        for name, (adapter, root) in _raw_corpora(base).items()
    }


@pytest.fixture(scope="module")
def written(corpus: dict[str, list[CanonicalEpisode]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("canonical")
    roots: dict[str, Path] = {}
    for name, episodes in corpus.items():
        by_subset: dict[str, list[CanonicalEpisode]] = {}
        for ep in episodes:
            by_subset.setdefault(f"{name}/{ep.subset}", []).append(ep)
        for key, eps in by_subset.items():
            root = out / key
            feats = {k: v for k, v in dataset_features(eps[0]).items()}
            with LeRobotWriter.create(root, fps=SPEC.fps, features=feats, robot_type=eps[0].embodiment) as w:
                for ep in eps:
                    write_episode(w, ep)
            roots[key] = root
    return roots


def test_every_source_yields_episodes(corpus: dict[str, list[CanonicalEpisode]]) -> None:
    for name, episodes in corpus.items():
        assert episodes, f"{name}: no canonical episode"
        for ep in episodes:
            assert np.array_equal(ep.timestamps, np.arange(ep.num_frames) / 10)
            assert ep.state.shape == ep.action.shape == (ep.num_frames, 50)
            assert np.isfinite(ep.state).all() and np.isfinite(ep.action).all()
            assert not ep.state[:, ~ep.mask].any(), f"{name}: values outside the mask"


def test_up_sampled_sources_flag_interpolated_frames(corpus: dict[str, list[CanonicalEpisode]]) -> None:
    bridge = corpus["bridge"][0]  # 5 Hz: every other 10 Hz frame is interpolated
    assert 0.4 < bridge.interpolated.mean() < 0.6
    fractal = corpus["fractal20220817_data"][0]  # 3 Hz: two of every ~three frames
    assert fractal.interpolated.mean() > 0.55
    assert not corpus["agibot"][0].interpolated.any()  # 30 Hz down-sampled: nothing made up


def test_masks_and_tiers_per_source(corpus: dict[str, list[CanonicalEpisode]]) -> None:
    bridge = corpus["bridge"][0]
    assert bridge.mask[hand_dims(1, WRIST_POS)].all() and bridge.mask[hand_dims(1, GRIPPER)].all()
    assert not bridge.mask[hand_dims(0, WRIST_POS)].any()  # one-armed: the left hand is masked
    agibot = {ep.embodiment for ep in corpus["agibot"]}
    assert agibot == {"agibot_gripper", "agibot_dexterous"}
    egodex = corpus["egodex"][0]
    assert egodex.has_hands and egodex.mask[hand_dims(0, WRIST_POS)].all()
    assert all(ep.tier is QualityTier.actionless for ep in corpus["ego4d"])
    gr00t = corpus["gr00t"][0]  # joint-space humanoid: wrists and fingertips by forward kinematics, natives kept
    assert gr00t.embodiment == "gr1" and gr00t.tier is QualityTier.high
    assert gr00t.mask[hand_dims(0, WRIST_POS)].all() and gr00t.mask[hand_dims(1, FINGERTIPS_XYZ)].all()
    assert gr00t.natives.state is not None and gr00t.natives.state.shape[1] >= 44


def test_canonical_lerobot_passes_through(corpus: dict[str, list[CanonicalEpisode]]) -> None:
    eps = corpus["lerobot"]
    assert len(eps) == 2 and all(ep.num_frames >= 40 for ep in eps)
    assert eps[0].mask.any() and eps[0].tier is QualityTier.high


@pytest.mark.oracle
def test_lerobot_loads_every_canonical_dataset(written: dict[str, Path], run_oracle) -> None:
    roots = sorted(written.values())
    out = run_oracle("load-many", *roots, timeout=300)
    assert len(out) == len(roots)
    for root in roots:
        res = out[str(root)]
        info = json.loads((root / "meta/info.json").read_text())
        assert res["num_episodes"] == info["total_episodes"] > 0
        assert res["num_frames"] == info["total_frames"]
        assert res["fps"] == 10 and res["sync_check_explicit"] is True
        assert info["features"]["action"]["info"]["mask"] is not None
        for shape in res["frame_shapes"].values():
            assert shape[0] == 3
