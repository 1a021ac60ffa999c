"""RoboMIND bad input: each is an AdapterError naming the file, the episode and the field, with an actionable cause;
discovery goes on past it and the other episodes read."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.robomind.adapter import RoboMINDAdapter
from adapters.robomind.camera import FrameDecodeError
from adapters.synthetic.robomind import EpisodeSpec, write_robomind

CASES = {  # bad switch -> (field, words the message must hold)
    "no_joint_position": ("puppet/joint_position", "is missing"),
    "truncated": ("trajectory.hdf5", "not a readable HDF5 file"),
    "lfs_pointer": ("trajectory.hdf5", "git lfs pull"),
    "bad_frame": ("observations/rgb_images/camera_top", "frame 0: neither a JPEG/PNG nor a raw"),
    "wrong_width": ("puppet/joint_position", "expected (T, 8) for h5_franka_1rgb, found (12, 7)"),
    "no_hdf5": ("trajectory.hdf5", "no *.hdf5 file in data/"),
}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("robomind_bad")
    specs = [
        EpisodeSpec("franka_1rgb", "bread_on_table", f"1023_10{k:02d}00", 12, bad=bad)
        for k, bad in enumerate([None, *CASES])
    ]
    write_robomind(root, specs)
    for folder in ("h5_simulation/open_and_close_01", "h5_mystery_robot/task"):  # releases this adapter does not read
        (root / folder / "success_episodes/train/2024_10_10-10_19_11/data").mkdir(parents=True)
        (root / folder / "success_episodes/train/2024_10_10-10_19_11/data/trajectory.hdf5").write_bytes(b"")
    return root


def _outcome(adapter: RoboMINDAdapter, ref) -> AdapterError | None:
    if ref.error:
        with pytest.raises(AdapterError) as info:
            adapter.read(ref)
        assert str(info.value) == ref.error
        return info.value
    try:
        adapter.read(ref)
    except AdapterError as e:
        return e
    return None


def test_each_bad_episode_names_file_episode_and_field_and_the_rest_read(release: Path) -> None:
    adapter = RoboMINDAdapter()
    refs = list(adapter.discover(release))
    assert len(refs) == 1 + len(CASES) + 2
    outcomes = {r.raw_id: _outcome(adapter, r) for r in refs}
    assert outcomes.pop("bread_on_table/train/1023_100000") is None  # the good one
    franka = {r.raw_id: outcomes[r.raw_id] for r in refs if r.subset == "franka_1rgb" and r.raw_id in outcomes}
    for k, (bad, (field, words)) in enumerate(CASES.items(), start=1):
        raw_id = f"bread_on_table/train/1023_10{k:02d}00"
        err = franka[raw_id]
        assert err is not None, bad
        assert err.field == field and err.episode == raw_id and words in err.reason, (bad, str(err))
        assert err.file is not None and f"1023_10{k:02d}00/data" in err.file
        assert str(err).startswith("adapter robomind, file ")
    sim = outcomes["open_and_close_01/train/2024_10_10-10_19_11"]
    assert sim is not None and sim.field == "release" and "simulation release h5_simulation" in sim.reason
    other = outcomes["task/train/2024_10_10-10_19_11"]
    assert other is not None and "unknown release folder h5_mystery_robot" in other.reason


def test_a_missing_optional_dataset_is_recorded_not_fatal(tmp_path: Path) -> None:
    import h5py

    [w] = write_robomind(tmp_path, [EpisodeSpec("ur_1rgb", "t", "e1", 6)]).values()
    with h5py.File(w.path, "a") as f:
        del f["puppet/end_effector"], f["master/joint_position"]
    raw = RoboMINDAdapter().read(next(RoboMINDAdapter().discover(tmp_path)))
    assert raw.metadata["missing_datasets"] == ["puppet/end_effector", "master/joint_position"]
    assert set(raw.states) == {"puppet.joint_position"} and set(raw.actions) == {"master.end_effector"}


def test_a_bad_frame_later_in_the_episode_names_its_index(tmp_path: Path) -> None:
    import h5py
    import numpy as np

    [w] = write_robomind(tmp_path, [EpisodeSpec("agilex_3rgb", "t", "e1", 6)]).values()
    with h5py.File(w.path, "a") as f:
        f["observations/rgb_images/camera_front"][4] = np.frombuffer(b"garbage", np.uint8)
    cam = RoboMINDAdapter().read(next(RoboMINDAdapter().discover(tmp_path))).cameras["camera_front"]
    assert len(list(cam.frames([0, 3]))) == 2
    with pytest.raises(FrameDecodeError, match=r"observations/rgb_images/camera_front\[4\]: neither"):
        list(cam.frames())


def test_a_franka_3rgb_episode_without_its_top_camera_reads_the_other_two(tmp_path: Path) -> None:
    """675 Franka 3RGB trajectories hold only the left and right cameras (the maker's README): not an error."""
    import h5py

    [w] = write_robomind(tmp_path, [EpisodeSpec("franka_3rgb", "2024_09_20_close_cabinet", "0920_142729", 6)]).values()
    with h5py.File(w.path, "a") as f:
        del f["observations/rgb_images/camera_top"], f["observations/depth_images/camera_top"]
    raw = RoboMINDAdapter().read(next(RoboMINDAdapter().discover(tmp_path)))
    assert sorted(raw.cameras) == ["camera_left", "camera_right"] and raw.metadata["cameras_missing"] == ["camera_top"]
    with pytest.raises(AdapterError, match="camera is missing") as info:
        RoboMINDAdapter({"cameras": ["camera_top"]}).read(next(RoboMINDAdapter().discover(tmp_path)))
    assert info.value.field == "observations/rgb_images/camera_top"
