"""The arrays adapter on real files (`tests.realdata.realdata`; a README per sample: source, commit, licence): Diffusion
Policy's PushT replay buffer as its demo_pusht.py wrote it (Zarr v2; the same buffer zipped, and copied into Zarr v3,
reads the same), a whole PushT training buffer of 151 episodes, a raw robosuite 1.4.1 `demo.hdf5` and a real buffer
committed without its data group (refused, naming what it lacks). Invariants: episodes and lengths from
`meta/episode_ends` / the demo groups, the rates the makers' code gives and where they came from, images uint8 in range,
natives equal to the file's rows."""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from adapters.arrays.adapter import ArraysAdapter, ZarrAdapter
from tests.adapters.arrays.conftest import META_ONLY, PUSHT, PUSHT_FULL, ROBOSUITE, as_v3
from tests.fixtures.writers.arrays import zip_folder
from tests.realdata import realdata


def _read_all(adapter: ArraysAdapter, root: Path) -> list:
    refs = list(adapter.discover(root))
    assert all(r.error is None for r in refs), [r.error for r in refs]
    return [adapter.read(r) for r in refs]


@pytest.fixture(scope="module")
def pusht() -> Path:
    return realdata(PUSHT)


def test_pusht_buffer_reads_one_episode_per_episode_end_at_10_hz(pusht: Path) -> None:
    g = zarr.open_group(pusht, mode="r")
    ends = g["meta/episode_ends"][:]
    (ep,) = _read_all(ArraysAdapter(), pusht.parent)
    assert ends.tolist() == [763] and ep.ref.raw_id == "replay_buffer.zarr/episode_0"
    assert ep.native_fps == 10 and ep.annotation.rate_from.startswith("default: Diffusion Policy demo_pusht.py")
    assert ep.annotation.layout == "diffusion_policy" and "meta/episode_ends" in ep.annotation.layout_from
    state, action = ep.states["state"], ep.actions["action"]
    assert len(state) == len(action) == 763 and np.allclose(np.diff(state.timestamps), 0.1)
    assert np.array_equal(state.values, g["data/state"][:].astype(np.float64))
    assert np.array_equal(action.values, g["data/action"][:].astype(np.float64))
    assert state.names[:2] == ("agent_x", "agent_y")  # pusht_image_dataset.py: state[:, :2] is the agent
    assert set(ep.states) == {"state", "keypoint", "n_contacts"} and ep.states["keypoint"].values.shape == (763, 18)
    cam = ep.cameras["img"]
    assert (len(cam), cam.height, cam.width) == (763, 96, 96)
    frames = dict(cam.frames([0, 100, 762]))
    stored = g["data/img"]
    for i, rgb in frames.items():
        assert rgb.dtype == np.uint8 and rgb.shape == (96, 96, 3) and np.array_equal(rgb, stored[i])


def test_pusht_zipped_and_v3_read_the_same(pusht: Path, tmp_path: Path) -> None:
    (plain,) = _read_all(ArraysAdapter(), pusht.parent)
    zipped_root, v3_root = tmp_path / "zip", tmp_path / "v3"
    zipped_root.mkdir(), v3_root.mkdir()
    zip_folder(pusht, zipped_root / "replay_buffer.zarr.zip")
    as_v3(pusht, v3_root / "replay_buffer.zarr")
    assert zarr.open_group(v3_root / "replay_buffer.zarr", mode="r").metadata.zarr_format == 3
    for root in (zipped_root, v3_root):
        (ep,) = _read_all(ZarrAdapter(), root)
        assert ep.ref.raw_id == "replay_buffer.zarr/episode_0" and ep.native_fps == 10
        for key, s in plain.states.items():
            assert np.array_equal(ep.states[key].values, s.values), key
        assert np.array_equal(ep.actions["action"].values, plain.actions["action"].values)
        assert np.array_equal(dict(ep.cameras["img"].frames([5]))[5], dict(plain.cameras["img"].frames([5]))[5])


def test_pusht_rate_option_wins_and_is_said(pusht: Path) -> None:
    (ep,) = _read_all(ArraysAdapter({"fps": 5}), pusht.parent)
    assert ep.native_fps == 5 and ep.annotation.rate_from == "option" and ep.states["state"].timestamps[2] == 0.4


def test_real_buffer_without_its_data_group_is_refused_naming_what_it_lacks() -> None:
    path = realdata(META_ONLY)
    adapter = ZarrAdapter()
    (ref,) = list(adapter.discover(path.parent))
    assert ref.error and "diffusion_policy lacks data/action" in ref.error and "umi lacks" in ref.error
    assert [f.code for f in adapter.findings()] == ["unreadable_store"]


def test_robosuite_raw_demo_one_episode_per_demo_at_its_control_freq() -> None:
    path = realdata(ROBOSUITE)
    eps = _read_all(ArraysAdapter(), path.parent.parent)
    with h5py.File(path) as f:
        demos = sorted(f["data"], key=lambda d: int(d.split("_")[1]))
        lengths = [len(f[f"data/{d}/actions"]) for d in demos]
        first = (f["data/demo_1/states"][:], f["data/demo_1/actions"][:])
    assert [e.ref.raw_id.rsplit("/", 1)[1] for e in eps] == demos == ["demo_1", "demo_2", "demo_3", "demo_4"]
    assert [len(e.actions["actions"]) for e in eps] == lengths == [85, 83, 143, 116]
    ep = eps[0]
    assert ep.annotation.layout == "robosuite_raw" and ep.robot_type == "Panda" and not ep.cameras
    # env_info holds no control_freq: robosuite's default, said
    assert ep.native_fps == 20 and ep.annotation.rate_from.startswith("default: robosuite's default control_freq 20")
    assert np.array_equal(ep.states["states"].values, first[0]) and np.array_equal(
        ep.actions["actions"].values, first[1]
    )


def test_pusht_float_images_as_released_read_as_the_same_uint8(pusht: Path, tmp_path: Path) -> None:
    """The released pusht_cchi_v7_replay.zarr holds `img` as float32 0..255 (Diffusion Policy divides it by 255):
    the real buffer with its images stored that way gives the same uint8 frames."""
    as_v3(pusht, tmp_path / "replay_buffer.zarr")
    g = zarr.open_group(tmp_path / "replay_buffer.zarr", mode="a")
    img = g["data/img"][:]
    del g["data/img"]
    g.create_array("data/img", data=img.astype(np.float32), chunks=(73, 96, 96, 3))
    (ep,) = _read_all(ZarrAdapter(), tmp_path)
    for i, rgb in ep.cameras["img"].frames([0, 300, 762]):
        assert rgb.dtype == np.uint8 and np.array_equal(rgb, img[i])


def test_pusht_zipped_one_folder_down_reads_the_same(pusht: Path, tmp_path: Path) -> None:
    """`zip -r replay_buffer.zarr.zip replay_buffer.zarr` puts the store one folder down in the zip."""
    with zipfile.ZipFile(tmp_path / "replay_buffer.zarr.zip", "w") as z:
        for f in sorted(pusht.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(pusht.parent).as_posix())
    (ep,) = _read_all(ZarrAdapter(), tmp_path)
    g = zarr.open_group(pusht, mode="r")
    assert len(ep.states["state"]) == 763 and np.array_equal(ep.actions["action"].values, g["data/action"][:])


def test_a_whole_pusht_training_buffer_one_episode_per_episode_end() -> None:
    """A whole PushT training buffer (named pusht_cchi_v7_replay.zarr, 151 episodes of 49-316 rows, 24,644 rows;
    the release Diffusion Policy documents has 206): one episode per end, each of the rows between the ends."""
    path = realdata(PUSHT_FULL)
    g = zarr.open_group(path, mode="r")
    ends = g["meta/episode_ends"][:]
    adapter = ZarrAdapter()
    refs = list(adapter.discover(path.parent))
    assert len(refs) == len(ends) == 151 and all(r.error is None for r in refs)
    starts = np.concatenate([[0], ends[:-1]])
    assert [tuple(r.locator["rows"]) for r in refs] == list(zip(starts.tolist(), ends.tolist(), strict=True))
    for k in (0, 75, 150):
        ep = adapter.read(refs[k])
        a, b = int(starts[k]), int(ends[k])
        assert ep.native_fps == 10 and len(ep.actions["action"]) == b - a and ep.annotation.rows == (a, b)
        assert np.array_equal(ep.states["state"].values, g["data/state"][a:b].astype(np.float64))
        ((_, rgb),) = list(ep.cameras["img"].frames([b - a - 1]))
        assert np.array_equal(rgb, g["data/img"][b - 1])
