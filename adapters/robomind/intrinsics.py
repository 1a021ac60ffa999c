"""Pinhole intrinsics per RoboMIND robot and camera, as the maker publishes them (x-humanoid-robomind.github.io
`static/RoboMIND_intrinsics.md` @ eab0480d: fx, fy, cx, cy in pixels; no distortion given). The table names no image
size, and one release (UR, Franka 1RGB) holds both 640x480 and 1280x720 `camera_top` frames (any4lerobot's
"not consistent image shape" retry), so a matrix is used only where its principal point sits within 6 % of the
image centre of the frame actually stored; otherwise the camera gets none."""

from __future__ import annotations

import numpy as np

# robot folder (without h5_) -> camera -> (fx, fy, cx, cy)
_TABLE: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "agilex_3rgb": {
        "camera_left_wrist": (454.6264953613281, 454.6264953613281, 327.5919494628906, 238.47760009765625),
        "camera_right_wrist": (454.0530700683594, 454.0530700683594, 327.8827209472656, 238.57809448242188),
        "camera_front": (455.47412109375, 455.47412109375, 327.1614074707031, 236.7096710205078),
    },
    "franka_3rgb": {
        "camera_left": (608.4066162109375, 608.3114624023438, 318.0715637207031, 256.1876220703125),
        "camera_right": (609.1039428710938, 608.821533203125, 328.1182556152344, 247.01058959960938),
        "camera_top": (909.6201171875, 908.7317504882812, 635.703125, 364.509368896844),
    },
    "franka_1rgb": {"camera_top": (608.78, 608.537, 322.79, 257.3597)},
    "franka_fr3_dual": {
        "camera_left": (462.0193176269531, 462.0207214355469, 317.4200744628906, 239.2024688720703),
        "camera_right": (462.4823303222656, 462.3477783203125, 321.53204345703125, 240.60427856445312),
        "camera_top": (693.0001220703125, 692.7867431640625, 642.3272094726562, 358.94342041015625),
        "camera_front": (612.8556518554688, 612.7535400390625, 641.6568603515625, 347.0881042480469),
    },
    "ur_1rgb": {"camera_top": (609.3246327846327, 609.7463827932434, 317.7893242938894, 257.3246343287439)},
}
# "Tien Kung 1RGB" (one camera_top matrix) covers every Tien Kung release folder
for _robot in ("tienkung_gello_1rgb", "tienkung_prod1_gello_1rgb", "tienkung_xsens_1rgb"):
    _TABLE[_robot] = {"camera_top": (687.6524658203125, 687.55224609375, 645.3302612304688, 361.4851989746094)}

CENTRE_TOLERANCE = 0.06


def intrinsics_for(robot: str, camera: str, hw: tuple[int, int]) -> np.ndarray | None:
    """The maker's 3x3 matrix for `camera` of `robot` when it fits an image of `hw` (height, width), else None."""
    entry = _TABLE.get(robot, {}).get(camera)
    if entry is None:
        return None
    fx, fy, cx, cy = entry
    h, w = hw
    if abs(cx - w / 2) > CENTRE_TOLERANCE * w or abs(cy - h / 2) > CENTRE_TOLERANCE * h:
        return None
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
