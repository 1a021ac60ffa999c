"""The RoboMIND writer (`adapters/synthetic/robomind.py`) against the maker's documentation of the release
(x-humanoid-robomind.github.io `static/all_robot_h5_info.md` @ 24d1fe21 / `_v1.2.md` @ a4baab8a, `quick_start.ipynb`
@ 2433e72b): the `h5_<robot>/<task>/success_episodes/<split>/<episode>/data/trajectory.hdf5` tree, `puppet/` and
`master/` groups of the documented widths, root attributes `compress` and `sim`, one encoded image per element of a
variable-length uint8 dataset, decoded as the maker's notebook decodes it: `cv2.imdecode` then BGR to RGB for Franka
and UR, as stored for AgileX (its JPEGs were encoded from RGB arrays)."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from adapters.synthetic.robomind import RED, WrittenEpisode, write_robomind
from tests.fixtures.specs import robomind_specs

# documented widths: "joint_position (8d): [base link, ..., end_effector link, gripper]" (Franka); Tien Kung Gello
# "[left arm (7d), left hand closure (1d), right arm (7d), right hand closure (1d)]"; Tien Kung Xsens end_effector
# (12d): six Inspire fingers per hand; AgileX end_effector_{left,right} 7d (v1.1 xyz + quaternion, v1.2 xyz + rpy +
# gripper); Franka end_effector "[x, y, z, r, p, y]"
WIDTHS = {
    "franka_1rgb": {"puppet/joint_position": 8, "puppet/end_effector": 6, "master/joint_position": 8},
    "tienkung_gello_1rgb": {"puppet/joint_position": 16, "master/joint_position": 16},
    "tienkung_xsens_1rgb": {"puppet/end_effector": 12},
    "agilex_3rgb": {"puppet/end_effector_left": 7, "puppet/end_effector_right": 7},
}
BGR_JPEG = {"franka_1rgb": True, "ur_1rgb": True, "agilex_3rgb": False}  # robomind.yaml bgr2rgb


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, WrittenEpisode]]:
    root = tmp_path_factory.mktemp("robomind")
    return root, write_robomind(root, robomind_specs(6))


def _by_robot(written: tuple[Path, dict[str, WrittenEpisode]], robot: str) -> WrittenEpisode:
    root, episodes = written
    return next(e for e in episodes.values() if e.path.relative_to(root).parts[0] == f"h5_{robot}")


def test_the_release_tree_and_the_documented_widths(written) -> None:
    root, episodes = written
    for ep in episodes.values():
        parts = ep.path.relative_to(root).parts
        assert (
            parts[0].startswith("h5_") and parts[2] == "success_episodes" and parts[-2:] == ("data", "trajectory.hdf5")
        )
        with h5py.File(ep.path) as f:
            assert set(f.attrs) == {"compress", "sim"} and not f.attrs["sim"]
            assert {"puppet", "master", "observations"} <= set(f)
    for robot, widths in WIDTHS.items():
        with h5py.File(_by_robot(written, robot).path) as f:
            for name, width in widths.items():
                assert f[name].ndim == 2 and f[name].shape[1] == width, (robot, name)


@pytest.mark.parametrize("robot", sorted(BGR_JPEG))
def test_images_decode_as_the_makers_notebook_decodes_them(written, robot: str) -> None:
    with h5py.File(_by_robot(written, robot).path) as f:
        cams = f["observations/rgb_images"]
        data = cams[sorted(cams)[0]]
        assert data.dtype.kind == "O" and data[0].dtype == np.uint8  # one encoded image per element
        img = cv2.imdecode(data[0], cv2.IMREAD_COLOR)
    rgb = img[..., ::-1] if BGR_JPEG[robot] else img
    assert np.abs(rgb[2:10, 2:14].reshape(-1, 3).mean(0) - RED).max() < 12  # the red patch, red
