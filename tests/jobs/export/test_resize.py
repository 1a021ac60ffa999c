"""Frames of one size in an export (`jobs/export/resize.py`), on real samples.

- `resize_video` on a real GR00T PickNPlace ego_view mp4 (256x256 H.264): every frame is the source frame fitted
  (PSNR against the source decoded and fitted in memory), the pad bars black, one stats count per sampled frame.
- A manifest across real sources whose cameras differ in size (2 GR00T PickNPlace episodes, ego_view 256x256, the
  `head`; 3 Bridge episodes, image_0 64x64, the `third_person`; both the slot `primary`), ingested at their native
  sizes, which exported nothing before: exported to LeRobot v3.0 with every episode, one line saying what was resized,
  each frame decoded where lerobot decodes it (from_timestamp + i / fps) equal to the source's bit for bit where the
  episode was already at the size (a stream copy) and to the source frame fitted (PSNR) where it was resized; the same
  manifest as v2.1 at a given size; `lerobot-train` (lerobot 0.6.1, tiny ACT, 2 steps; slow) trains on the v3.0 one.
- A bad size is refused naming its field; a format that writes no frame refuses the option.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.cameras import frame_converter
from adapters.storage.corpus import Corpus
from ingest.lerobot.image_stats import sample_indices
from ingest.lerobot.video import VideoCodec
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.cli import main
from jobs.export.resize import plan_resizing, resize_video
from schemas.export_frames import ExportFrames
from schemas.export_layout import camera_source_column, intrinsics_column
from schemas.image_size import FrameFit
from schemas.lerobot import fill_path_template
from tests.realdata import realdata

MANIFEST = "mix"
PRIMARY = "observation.images.primary"
EGO_VIEW = "gr00t_robot_sim_picknplace/videos/chunk-000/observation.images.ego_view/episode_000000.mp4"
BRIDGE = "octo_bridge_debug_rlds"
# AV1 at ingest's crf 30, 256x256 -> 64x64 (the source already AV1 at crf 30): 35.4 dB median, 30.4 min measured on
# a GR00T episode; a frame 40 steps away scores 24.0 median (its sim scene moves slowly)
MIN_PSNR_DB, MEAN_PSNR_DB = 27.0, 32.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def decoded(path: Path | str, fit: FrameFit | None = None) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        convert = frame_converter(fit)
        return [convert(f) for f in c.decode(video=0)]


def test_a_real_video_is_resized_frame_for_frame(tmp_path: Path) -> None:
    src = realdata(EGO_VIEW)
    fit = ExportFrames().fit_for((256, 256), (48, 64))  # a wider size: bars left and right
    assert fit is not None and fit.scaled_hw == (48, 48) and fit.offset_yx == (0, 8)
    stats = resize_video(src, tmp_path / "out.mp4", fit, 20, VideoCodec())
    want, got = decoded(src, fit), decoded(tmp_path / "out.mp4")
    assert len(got) == len(want) > 10 and got[0].shape == (48, 64, 3)
    scores = [psnr(g, w) for g, w in zip(got, want, strict=True)]
    assert min(scores) > MIN_PSNR_DB and np.mean(scores) > MEAN_PSNR_DB
    bars = np.concatenate([g[:, :6] for g in got] + [g[:, -6:] for g in got])
    assert bars.mean() < 2.0  # black, but for the codec's ringing next to the image
    assert stats.count[0] == len(sample_indices(len(got))) and len(stats.mean) == 3  # lerobot's sampled frames


def test_plan_resizing_maps_each_resized_episodes_intrinsics() -> None:
    class Src:
        def __init__(self) -> None:
            self.features = {PRIMARY: {"shape": [480, 640, 3]}}

    class Ref:
        def __init__(self) -> None:
            self.source, self.resize = Src(), {}
            self.extra = {intrinsics_column(PRIMARY): [500.0, 0, 319.5, 0, 500.0, 239.5, 0, 0, 1]}

        def camera(self, key: str) -> str:
            return key

    refs = [Ref(), Ref()]
    resizing = plan_resizing(refs, [PRIMARY], ExportFrames(size="64x64"))
    K = np.reshape(refs[0].extra[intrinsics_column(PRIMARY)], (3, 3))
    # 640 -> 64 columns (scale 0.1), 480 -> 48 rows centred at row 8: the principal point stays the image centre
    assert np.allclose(K, [[50, 0, 31.5], [0, 50, 31.5], [0, 0, 1]])
    assert resizing.episodes == 2 and resizing.record()["cameras"][PRIMARY] == {"to": "64x64", "from": {"640x480": 2}}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real episodes of two sources at their native camera sizes, written as ingest writes them, and a manifest."""
    from adapters.registry import get_adapter
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from tests.ingest.qa.planted_raw import gr00t_raws, ingest

    root = tmp_path_factory.mktemp("mixed")
    oxe = get_adapter("oxe")
    bridge = [r for r in oxe.discover(realdata(BRIDGE)) if r.error is None][:3]
    for raw in [*gr00t_raws()[:2], *map(oxe.read, bridge)]:
        written, rejected = ingest(raw, CanonicalizeSpec(), root / dataset_dir(raw.ref.source, raw.ref.subset))
        assert len(written) == 1, rejected
    rebuild_catalog(Corpus(root))
    curate(root, MANIFEST, "true", balance="source", val_fraction=0.0)
    return root


@pytest.fixture(scope="module")
def exported(mixed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out, buf = tmp_path_factory.mktemp("v3") / "out", io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(["export", str(mixed), "--format", "lerobot-v3", "--out", str(out), "--manifest", MANIFEST])
    assert status == 0, buf.getvalue()
    return out / MANIFEST, buf.getvalue()


def test_a_manifest_of_cameras_of_different_sizes_exports_every_episode(exported: tuple[Path, str]) -> None:
    root, printed = exported
    info = json.loads((root / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 5 and info["features"][PRIMARY]["shape"] == [64, 64, 3]
    # the one line: 3 Bridge episodes at 64x64 are the most common size, the 2 GR00T ones resized
    line = (
        "frames resized in 2 of 5 episodes (--frame-size most-common, --frame-fit pad): primary 256x256 (2 ep) -> 64x64"
    )
    assert line in printed and "skipped: none" in printed
    record = json.loads((root / ".eidata-export.json").read_text())
    assert record["skipped"] == {} and record["resized"]["cameras"][PRIMARY] == {"to": "64x64", "from": {"256x256": 2}}
    assert not list(root.rglob(".resized*"))  # the resized episodes' own files are gone


def test_each_frame_is_the_source_frame_or_the_source_frame_fitted(exported: tuple[Path, str], mixed: Path) -> None:
    root, _ = exported
    info = json.loads((root / "meta" / "info.json").read_text())
    episodes = pq.read_table(sorted((root / "meta" / "episodes").rglob("*.parquet"))).to_pylist()
    frames: dict[tuple[int, int], list[tuple[float, np.ndarray]]] = {}
    for path in sorted((root / "videos" / PRIMARY).rglob("*.mp4")):
        chunk, file = int(path.parent.name.split("-")[1]), int(path.stem.split("-")[1])
        with av.open(str(path)) as c:
            frames[(chunk, file)] = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    resized = 0
    for ep in episodes:
        src, index = mixed / ep["source_dataset"], ep["source_episode_index"]
        template = json.loads((src / "meta" / "info.json").read_text())["video_path"]
        mp4 = src / fill_path_template(template, index, 0, ep[camera_source_column(PRIMARY)] or PRIMARY)
        native = decoded(mp4)
        fit = ExportFrames().fit_for(native[0].shape[:2], (64, 64))
        want = decoded(mp4, fit) if fit is not None else native
        got = frames[(ep[f"videos/{PRIMARY}/chunk_index"], ep[f"videos/{PRIMARY}/file_index"])]
        start = ep[f"videos/{PRIMARY}/from_timestamp"]
        assert ep["length"] == len(want)
        for i, w in enumerate(want):  # where lerobot decodes frame i: from_timestamp + i / fps
            t = start + i / info["fps"]
            g = min(got, key=lambda tf: abs(tf[0] - t))
            assert abs(g[0] - t) < 0.5 / info["fps"]
            if fit is None:
                assert np.array_equal(g[1], w), (ep["episode_uid"], i)  # stream-copied: bit for bit
            else:
                assert psnr(g[1], w) > MIN_PSNR_DB, (ep["episode_uid"], i, psnr(g[1], w))
        scores = [psnr(min(got, key=lambda tf: abs(tf[0] - start - i / info["fps"]))[1], w) for i, w in enumerate(want)]
        assert fit is None or np.mean(scores) > MEAN_PSNR_DB, (ep["episode_uid"], np.mean(scores))
        resized += fit is not None
    assert resized == 2


def test_v21_at_a_given_size(mixed: Path, tmp_path: Path) -> None:
    argv = ["export", str(mixed), "--format", "lerobot-v21", "--out", str(tmp_path), "--manifest", MANIFEST]
    assert main([*argv, "--frame-size", "96x64"]) == 0
    info = json.loads((tmp_path / MANIFEST / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 5 and info["features"][PRIMARY]["shape"] == [64, 96, 3]
    for mp4 in sorted((tmp_path / MANIFEST / "videos").rglob("*.mp4")):
        with av.open(str(mp4)) as c:
            assert (c.streams.video[0].height, c.streams.video[0].width) == (64, 96)


def test_a_bad_size_is_refused_naming_its_field_and_frameless_formats_refuse_it(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["export", str(mixed), "--format", "lerobot-v3", "--out", str(tmp_path), "--manifest", MANIFEST]
    assert main([*argv, "--frame-size", "65x64"]) == 2
    assert "frames.size" in capsys.readouterr().err
    assert main(["export", str(mixed), "--format", "gr00t", "--frame-size", "64x64"]) == 2
    assert "--frame-size do not apply to --format gr00t" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow  # one lerobot-train run: about 20 s
def test_lerobot_train_trains_on_the_mixed_export(exported: tuple[Path, str], run_oracle_v30, tmp_path: Path) -> None:
    from tests.jobs.export.lerobot_v3.test_clients import STEPS, TRAIN_ARGS

    root, _ = exported
    results = run_oracle_v30("train", str(root), "--out", str(tmp_path), "--", *TRAIN_ARGS, timeout=600)
    run = results[str(root)]
    assert run["ok"], (run.get("error"), run.get("where"))
    assert len(run["losses"]) == STEPS and all(math.isfinite(v) for v in run["losses"]), run
