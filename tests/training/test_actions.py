"""Issue 65 item 2 for `eidata train`: a robot without a description trains on its own command.

The corpus holds two robots eidata has no description of, ingested from their makers' real layouts
(`tests/fixtures/lerobot_layouts`: the 34-joint two-hand LeRobot v3.0 rig `lingzu_open50_v30` and the RoboCOIN-layout
30-dim `robocoin_v21` written without its unified end effector, as in `tests/jobs/export/lerobot_v3/test_native.py`),
beside a canonical Franka. What the model trains on is compared with the RAW recordings (30 fps rows at k/10 s), never
with the corpus's rows: the chunk of an observation at t holds the commands t .. t+K-1, normalized by the q01/q99 of
that robot's commands alone, its dims past the command's width masked out of the loss, the statistics and the input.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.registry import get_adapter
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.train import used_and_left_out
from schemas.actions import ActionKind, ActionSpace
from schemas.canonical import ACTION_NATIVE, CANONICAL_DIM, CANONICAL_FPS, STATE_NATIVE, image_key
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import EpisodeLineage, dataset_dir
from schemas.image_size import ImageSpec
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from schemas.tiers import TASK_IDS, QualityTier, Task
from tests.fixtures.layouts import Written, load_case, materialize
from tests.ingest.qa.planted_raw import ingest
from tests.training.conftest import MODEL
from tests.training.corpus import ARM, HIDDEN, tiny_config, world, write_dataset, write_latents, write_texts
from training.config import DataConfig
from training.dataset import ManifestDataset, collate
from training.episode_table import EpisodeRecord
from training.episodes import SampleIndex, build_index
from training.normalize import compute_stats
from training.objective import LDAObjective, draw_noise
from training.trainer import train

LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "lerobot_layouts"
ROBOTS = {"lingzu": "lingzu_open50_v30", "robocoin": "robocoin_v21"}
NO_UNIFIED_EEF = {"robocoin": ("eef_sim_pose_state", "eef_sim_pose_action")}  # its pipeline before eef_sim
K = MODEL.chunk


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("native_train")
    root, raw, raw_info, spec = tmp / "corpus", {}, {}, CanonicalizeSpec(image=ImageSpec(size="32x32"))
    rng, w = np.random.default_rng(3), world()
    for source, case in ROBOTS.items():
        layout = load_case(LAYOUTS / case)
        for key in NO_UNIFIED_EEF.get(source, ()):
            layout.info["features"].pop(key)
        for ft in layout.info["features"].values():  # frames play no part (the test writes the latents): small ones
            if ft.get("dtype") == "video":
                ft["shape"], info = [48, 64, 3], ft.get("info") or {}
                info.update({k: v for k, v in (("video.height", 48), ("video.width", 64)) if k in info})
        raw[source] = materialize(layout, tmp / "raw" / source, episodes=2, seconds=3.0)
        raw_info[source] = layout.info
        adapter = get_adapter("lerobot")
        for ref in adapter.discover(raw[source].root):
            kept, why = ingest(adapter.read(ref), spec, root / dataset_dir(source, ref.subset))
            assert kept, why
    lines = {}
    for folder in sorted(p.parent.parent for p in root.glob(f"datasets/*/*/{INFO_PATH}")):
        info = load_info(folder / INFO_PATH)
        camera = next(c for c in DataConfig().cameras if image_key(c) in info.video_keys)
        for _, obj in read_jsonl(folder / EPISODES_PATH):
            lines[folder.relative_to(root).as_posix(), int(obj["episode_index"])] = (info, EpisodeLineage.of(obj))
            x = rng.normal(size=(int(obj["length"]), HIDDEN)).astype(np.float32)
            write_latents(folder, int(obj["episode_index"]), x, w, camera=camera)
        write_texts(folder, skip=set())
    arm = root / "datasets/sim/arm"  # a canonical robot in the same run
    for i, a in enumerate(write_dataset(arm, "sim", "arm", "franka", ARM[:2], w, actions=True)):
        write_latents(arm, i, a["x"], w)
    write_texts(arm, skip=set())
    rebuild_catalog(Corpus(root))
    manifest = curate(root, "mixed", "true", val_fraction=0.0)
    return SimpleNamespace(root=root, raw=raw, raw_info=raw_info, lines=lines, manifest=manifest, tmp=tmp)


@pytest.fixture(scope="module")
def index(corpus: SimpleNamespace) -> SampleIndex:
    return build_index(corpus.manifest, "train", MODEL, DataConfig(num_workers=0))


@pytest.fixture(scope="module")
def dataset(index: SampleIndex) -> ManifestDataset:
    return ManifestDataset(index, compute_stats(index), MODEL, index.manifest.routing, seed=0)


def _raw(corpus: SimpleNamespace, index: SampleIndex, ep: EpisodeRecord) -> tuple[np.ndarray, np.ndarray]:
    """The raw recording's (command, state) rows of a corpus episode at its 10 Hz frames: the 30 fps row at k/10 s
    from the episode's start in the raw clock (its lineage's span), in the column order of the corpus's natives
    (`names` of `action.native` / `observation.state.native`, each the raw column it came from)."""
    rel = index.datasets[ep.dataset_id]
    info, lineage = corpus.lines[rel, ep.episode_index]
    source = rel.split("/")[1]  # datasets/<source>/<subset>
    written, raw_info = corpus.raw[source], corpus.raw_info[source]
    raw_index = int(lineage.raw_id.rsplit("_", 1)[1])  # episode_00000N
    rows = np.round((lineage.span_s[0] + np.arange(ep.length) / CANONICAL_FPS) * written.fps).astype(int)
    out = []
    for key in (ACTION_NATIVE, STATE_NATIVE):
        names = info.features[key].names
        out.append(np.stack([_raw_column(written, raw_info, n, raw_index)[rows] for n in names], axis=1))
    return out[0], out[1]


def _raw_column(written: Written, raw_info: dict, name: str, episode: int) -> np.ndarray:
    """The raw values of one native column, named `<raw feature>.<its name or index>` by ingest."""
    key = max((k for k in written.columns if name.startswith(k + ".")), key=len)
    rest = name[len(key) + 1 :]
    values = np.asarray(written.columns[key][episode], np.float64).reshape(len(written.columns[key][episode]), -1)
    if rest.isdigit():
        return values[:, int(rest)]
    names = raw_info["features"][key]["names"]
    flat = [n for group in names.values() for n in group] if isinstance(names, dict) else list(names)
    return values[:, flat.index(rest)]


def _q99(x: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """GR00T's q99 normalization of `x` by the q01/q99 of `frames` (np.quantile, linear), constant dims 0."""
    lo, hi = np.quantile(frames, [0.01, 0.99], axis=0)
    live = hi - lo >= 1e-6
    return np.where(live, np.clip(2 * (x - lo) / np.where(live, hi - lo, 1) - 1, -1, 1), 0.0)


def test_a_robot_without_a_description_trains_on_its_command(index: SampleIndex) -> None:
    report = index.report
    native = [e for e in index.episodes if e.action.space is ActionSpace.native]
    widths = {index.datasets[e.dataset_id].split("/")[1]: e.action.native_width for e in native}
    assert widths == {"lingzu": 34, "robocoin": 30}
    assert all(e.action.kind is ActionKind.native for e in native) and len(native) == 4
    # never routed as actionless: the tier routing of their manifest tier, which is not actionless either
    assert all(e.routed is e.tier and e.tier is not QualityTier.actionless for e in native)
    assert report.native_widths == {34: 2, 30: 2} and report.kinds == {"native": 4, "canonical": 2}
    assert "4 trained on native actions (34 dims: 2 episodes, 30 dims: 2 episodes)" in report.summary()


def test_the_chunk_is_the_recorded_command_of_frames_t_to_t_plus_k(
    corpus: SimpleNamespace, index: SampleIndex, dataset: ManifestDataset
) -> None:
    by_robot: dict[int, list[EpisodeRecord]] = {}
    for e in index.episodes:
        by_robot.setdefault(e.dataset_id, []).append(e)
    checked = 0
    for i in range(len(index)):
        ep = index.episodes[int(index.sample_episode[i])]
        if ep.action.space is not ActionSpace.native:
            continue
        s = dataset[(i, i)]
        t, w, sw = int(s["frame"]), ep.action.native_width, ep.action.state_width
        cmd, state = _raw(corpus, index, ep)
        robot = [_raw(corpus, index, e) for e in by_robot[ep.dataset_id]]  # that robot's episodes only
        steps = np.arange(t, t + K)
        inside = steps < ep.length
        want = _q99(cmd[np.minimum(steps, ep.length - 1)], np.concatenate([c for c, _ in robot]))
        got = s["actions"].numpy().astype(np.float64)
        np.testing.assert_allclose(got[inside, CANONICAL_DIM : CANONICAL_DIM + w], want[inside], atol=1e-4)
        assert np.all(got[:, :CANONICAL_DIM] == 0) and np.all(got[:, CANONICAL_DIM + w :] == 0)
        want_state = _q99(state[t], np.concatenate([st for _, st in robot]))
        np.testing.assert_allclose(s["state"].numpy()[CANONICAL_DIM : CANONICAL_DIM + sw], want_state, atol=1e-4)
        mask, state_mask = s["action_mask"].numpy(), s["state_mask"].numpy()
        assert mask[CANONICAL_DIM : CANONICAL_DIM + w].all() and mask.sum() == w
        assert state_mask[CANONICAL_DIM : CANONICAL_DIM + sw].all() and state_mask.sum() == sw
        assert s["chunk_mask"].numpy().astype(bool).tolist() == inside.tolist()
        if inside.sum() > 1:  # the rows one frame late are another chunk: the comparison tells them apart
            late = _q99(cmd[np.minimum(steps + 1, ep.length - 1)], np.concatenate([c for c, _ in robot]))
            assert not np.allclose(got[inside, CANONICAL_DIM : CANONICAL_DIM + w], late[inside], atol=1e-4)
        checked += 1
    assert checked >= 8


def test_the_loss_trains_the_command_dims_and_never_the_padding(
    corpus: SimpleNamespace, index: SampleIndex, dataset: ManifestDataset
) -> None:
    cfg = tiny_config(corpus.manifest, lara="off")
    objective = LDAObjective(cfg)
    torch.manual_seed(0)
    for p in objective.dit.action_head.parameters():  # AdaLN-Zero starts the head at 0: give it an output
        torch.nn.init.normal_(p, std=0.1)
    native = [i for i in range(len(index)) if index.episodes[int(index.sample_episode[i])].action.native_width]
    batch = collate([dataset[(i, 0)] for i in native[:: max(1, len(native) // 8)][:8]])
    batch["task"] = torch.full_like(batch["task"], TASK_IDS[Task.policy])
    grads: list[torch.Tensor] = []

    def keep(_m: torch.nn.Module, _i: object, out: torch.Tensor) -> None:
        out.register_hook(grads.append)

    objective.dit.action_head.register_forward_hook(keep)
    noise = draw_noise(len(batch["task"]), MODEL, cfg.flow, torch.Generator().manual_seed(1))
    losses = objective(batch, noise)
    losses.total.backward()
    assert float(losses.action.detach()) > 0
    (g,) = grads  # [B, K, A] the loss's gradient on each predicted dim
    for row in range(len(g)):
        w = index.episodes[int(batch["episode"][row])].action.native_width
        inside = batch["chunk_mask"][row].bool()
        assert torch.count_nonzero(g[row][:, :CANONICAL_DIM]) == 0  # the canonical dims it does not have
        assert torch.count_nonzero(g[row][:, CANONICAL_DIM + w :]) == 0  # the padding past its command
        assert torch.count_nonzero(g[row][~inside]) == 0  # steps past the episode's end
        assert torch.all(g[row][inside][:, CANONICAL_DIM : CANONICAL_DIM + w] != 0)  # every command dim trains


def test_a_few_steps_train_and_the_summary_names_the_native_widths(corpus: SimpleNamespace) -> None:
    cfg = tiny_config(corpus.manifest, lara="off", schedule_steps=2)
    result = train(cfg, corpus.tmp / "run", device="cpu")
    assert result.step == 2 and np.isfinite(result.loss)
    assert result.index is not None and result.index.native_widths == {34: 2, 30: 2}
    assert "4 on native actions (34 dims: 2 episodes, 30 dims: 2 episodes)" in used_and_left_out(result.index)


def test_a_command_wider_than_the_block_is_left_out_naming_both_widths(corpus: SimpleNamespace) -> None:
    """RoboCOIN's 30-dim command comes with a 48-dim state (its annotations among the natives): a 40-wide block takes
    the 34-dim rig and leaves RoboCOIN out, said with the option to raise, never truncated."""
    narrow = MODEL.model_copy(update={"native_dim": 40})
    index = build_index(corpus.manifest, "train", narrow, DataConfig(num_workers=0))
    assert index.report.native_widths == {34: 2}
    [(reason, n)] = index.report.skipped.items()
    assert n == 2 and "native command 30 wide and state 48 wide" in reason and "raise model.native_dim" in reason
