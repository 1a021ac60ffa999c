"""The makers also publish their arms as Denavit-Hartenberg tables: a second statement of the same kinematics, in
another convention, independent of the URDF files we transcribed. Our FK of the shipped URDF must reproduce it at
random configurations.

- Franka (Panda and FR3), Craig's modified DH, link i frames = the URDF's link i, flange = link8: Franka's
  documentation, https://frankaemika.github.io/docs/control_parameters.html ("Denavit-Hartenberg parameters").
- UR5e, standard DH from the controller's Base frame to the tool flange (ur_description's `base` and `tool0`):
  Universal Robots, "Parameters for calculations of kinematics and dynamics" (FAQ 45257),
  https://www.universal-robots.com/how-tos-and-faqs/faq/ur-faq/parameters-for-calculations-of-kinematics-and-dynamics-45257/
- UFACTORY xArm 7, Craig's modified DH, link i frames = the URDF's link i (flange = link7), all theta offsets 0:
  UFACTORY, "Kinematic and Dynamic Parameters of UFACTORY xArm Series", xArm 7 "Modified D-H Parameters"
  (help.ufactory.cc/en/articles/4330809, docs.ufactory.cc support_articles/developer/kinematic-and-dynamic-parameters;
  the same article's xArm 5 rows carry the shared 267, 77.5 / 342.5, 76 / 97 mm).
- UFACTORY xArm 6, Craig's modified DH with the theta offsets of its bent upper arm: the same article's xArm 6 table
  (`dh.py`). Its kinematics file writes pi/2 as 1.5708, which alone keeps our FK ~3e-6 m from the table: the same file
  with pi/2 written out agrees to 1e-12 m, so every length, offset and axis is the table's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.kinematics import load_model
from ingest.kinematics.description import description_path
from tests.ingest.kinematics.dh import HALF_PI, craig, standard, xarm6_frames

# (a, d, alpha) per joint, theta = q; then the fixed flange
FRANKA_MDH = [
    (0, 0.333, 0),
    (0, 0, -HALF_PI),
    (0, 0.316, HALF_PI),
    (0.0825, 0, HALF_PI),
    (-0.0825, 0.384, -HALF_PI),
    (0, 0, HALF_PI),
    (0.088, 0, HALF_PI),
]
FRANKA_FLANGE = (0, 0.107, 0)
# (a, d, alpha) per joint as FRANKA_MDH, metres
XARM7_MDH = [
    (0, 0.267, 0),
    (0, 0, -HALF_PI),
    (0, 0.293, HALF_PI),
    (0.0525, 0, HALF_PI),
    (0.0775, 0.3425, HALF_PI),
    (0, 0, HALF_PI),
    (0.076, 0.097, -HALF_PI),
]
UR5E_DH = [
    (0, 0.1625, HALF_PI),
    (-0.425, 0, 0),
    (-0.3922, 0, 0),
    (0, 0.1333, HALF_PI),
    (0, 0.0997, -HALF_PI),
    (0, 0.0996, 0),
]


def random_q(name: str, n: int) -> np.ndarray:
    m = load_model(name)
    return np.random.default_rng(7).uniform(m.lower, m.upper, size=(n, m.dof))


@pytest.mark.parametrize("name", ["panda", "fr3"])
def test_franka_urdf_reproduces_the_makers_dh_table(name: str) -> None:
    m = load_model(name)
    q = random_q(name, 32)
    links = [f"{name}_link{i}" for i in range(1, 9)]
    ours = m.forward(q, links, base=f"{name}_link0")
    for row, poses in zip(q, ours, strict=True):
        t = np.eye(4)
        for i, (a, d, alpha) in enumerate(FRANKA_MDH):
            t = t @ craig(a, d, alpha, row[i])
            np.testing.assert_allclose(poses[i], t, atol=1e-12, err_msg=f"{name} link{i + 1}")
        np.testing.assert_allclose(poses[7], t @ craig(*FRANKA_FLANGE, 0.0), atol=1e-12, err_msg=f"{name} flange")


def test_ur5e_urdf_reproduces_the_makers_dh_table() -> None:
    m = load_model("ur5e")
    q = random_q("ur5e", 32)
    ours = m.forward(q, ["tool0"], base="base")[:, 0]
    for row, pose in zip(q, ours, strict=True):
        t = np.eye(4)
        for i, (a, d, alpha) in enumerate(UR5E_DH):
            t = t @ standard(a, d, alpha, row[i])
        # the description's default kinematics write pi/2 to 9-10 digits and carry 2e-11 m offsets
        np.testing.assert_allclose(pose, t, atol=1e-8)


def test_xarm7_urdf_reproduces_the_makers_dh_table() -> None:
    m = load_model("xarm7")
    q = random_q("xarm7", 32)
    ours = m.forward(q, [f"link{i}" for i in range(1, 8)], base="link_base")
    for row, poses in zip(q, ours, strict=True):
        t = np.eye(4)
        for i, (a, d, alpha) in enumerate(XARM7_MDH):
            t = t @ craig(a, d, alpha, row[i])
            # the maker's kinematics file writes pi/2 as 1.5708 (each axis ~4e-6 rad off, 7 of them): 5e-5; a link
            # length one millimetre off fails
            np.testing.assert_allclose(poses[i], t, atol=5e-5, err_msg=f"xarm7 link{i + 1}")


XARM6_LINKS = ["link1", "link3", "link4", "link5", "link6"]  # DH frames 1, 3 .. 6 (frame 2 is link2 turned)


def _xarm6_off(name: str) -> tuple[float, float]:
    """Largest position (m) and rotation-matrix entry difference of FK of `name` from the xArm 6 DH table, over 64
    random configurations within the shipped file's limits, every compared link."""
    m = load_model(name)
    q = random_q("xarm6", 64)
    ours = m.forward(q, XARM6_LINKS, base="link_base")
    dh = xarm6_frames(q)[:, [0, 2, 3, 4, 5]]
    return float(np.abs(ours[..., :3, 3] - dh[..., :3, 3]).max()), float(
        np.abs(ours[..., :3, :3] - dh[..., :3, :3]).max()
    )


def test_xarm6_urdf_reproduces_the_makers_dh_table() -> None:
    position, rotation = _xarm6_off("xarm6")
    # 1.5708 for pi/2 in the maker's kinematics file (four of the six origins): 2.8e-6 m, 1.4e-5 at most
    assert position < 5e-6 and rotation < 3e-5


def test_xarm6_urdf_with_pi_over_2_written_out_is_the_dh_table(tmp_path: Path) -> None:
    """What is left once the five-digit pi/2 is written out is the transcription: lengths, offsets and axes exact."""
    text = description_path("xarm6").read_text().replace('rpy="1.5708', f'rpy="{HALF_PI!r}')
    text = text.replace('rpy="-1.5708', f'rpy="-{HALF_PI!r}')
    assert text.count(repr(HALF_PI)) == 4  # joint2, 4, 5, 6
    path = tmp_path / "xarm6_exact.urdf"
    path.write_text(text)
    position, rotation = _xarm6_off(str(path))
    assert position < 1e-12 and rotation < 1e-12
