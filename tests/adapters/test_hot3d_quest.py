"""HOT3D's world per headset, on numbers of the maker's real samples: Aria's world is Z-up, Quest 3's Y-up. The table's
objects share one height along the declared up axis and along no other, the headset is above them, and the canonical
frame built on that axis puts the Quest 3 wrists in front of the camera that films them, the left one on the left; read
as Z-up, the same numbers come out mirrored. A headset the maker does not record with is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.hot3d.adapter import WORLD_UP, Hot3DAdapter, headset_kind
from adapters.hot3d.files import se3_from_wxyz
from adapters.synthetic.hot3d import write_hot3d
from ingest.canonical.decouple import FORWARD_AXIS, gravity_aligned_frame

# facebookresearch/hot3d hot3d/data_loaders/tests/data_sample/, first timestamp of each sample: dynamic_objects.csv
# t_wo of the six objects (commit eb3413ff), headset_trajectory.csv t_wo (commit 322bbffc)
REAL_OBJECTS = {
    "Aria": ((-0.1316392695967966, -0.0221119195517658, -0.4306959342774656),
             (-0.1978888770649568, -0.186251511715335, -0.4162614495613185),
             (-0.0653746268792049, -0.1622062745070008, -0.3306255158867771),
             (-0.3363547908227394, -0.2606048576580702, -0.3891959245100005),
             (-0.4204723895305361, -0.1510038494868436, -0.4237247569789579),
             (-0.2705201116083246, 0.0942888395758195, -0.408175549771675)),
    "Quest3": ((-0.2398117437530548, 0.731738851708539, -0.2668892691211174),
               (0.0949329075629214, 0.7181370923639753, -0.5339562221777642),
               (0.2290927770604534, 0.7218466525043389, -0.5623583023125276),
               (0.2276835731046791, 0.7686022223752406, -0.4001916052647579),
               (0.2422222559761161, 0.729988931907435, -0.4380059301567447),
               (0.1181436197872359, 0.7478515193401646, -0.3097789008786182)),
}  # fmt: skip
REAL_HEADSET = {"Aria": (0.0648581547977763, 0.0183710906074943, 0.0060656618334766),
                "Quest3": (0.0034970109462738, 1.1696090087890625, -0.0776387786865234)}  # fmt: skip
# Quest3/P0002_273c2819: headset_trajectory.csv q_wo (w x y z), camera_models.json camera-slam-left T_Device_Camera,
# umetrack_hand_pose_trajectory.jsonl wrist t_xyz of hands "0" (left) and "1" (right), all at 43124400000000
QUEST_DEVICE_Q = (0.6316699154608774, -0.334256056968385, 0.6353578507409454, -0.29255154722449)
QUEST_SLAM_LEFT = ((-0.44995020258640295, 0.4002398518639525, -0.5571697905977196, 0.5717645499833561),
                   (0.02676488494873047, -0.1293854675292969, -0.03089171028137207))  # fmt: skip
QUEST_WRISTS = {0: (-0.12991822814941406, 0.7555054931640625, -0.13133995056152345),
                1: (0.18956837463378906, 0.7504779052734375, -0.17308558654785156)}  # fmt: skip


@pytest.mark.parametrize("headset", ["Aria", "Quest3"])
def test_real_table_objects_share_one_height_along_the_declared_up_and_no_other(headset: str) -> None:
    up = WORLD_UP[headset_kind(headset)]
    objects = np.asarray(REAL_OBJECTS[headset])
    spread = objects.max(axis=0) - objects.min(axis=0)  # per world axis, metres
    axis = int(np.argmax(np.abs(up)))
    others = np.delete(spread, axis)
    assert spread[axis] < 0.12 and spread[axis] < 0.4 * others.min(), (headset, spread)  # a table, not a wall
    assert (np.asarray(REAL_HEADSET[headset]) - np.median(objects, axis=0)) @ up > 0.35  # the eyes above the table


def _real_quest_camera() -> np.ndarray:
    device = se3_from_wxyz(np.array([QUEST_DEVICE_Q]), np.array([REAL_HEADSET["Quest3"]]))[0]
    return device @ se3_from_wxyz(np.array([QUEST_SLAM_LEFT[0]]), np.array(QUEST_SLAM_LEFT[1]))[0]


def _in_reference(up: np.ndarray) -> dict[int, np.ndarray]:
    """The real Quest 3 wrists in the canonical reference frame canonicalize builds on `up` (x ahead, y left, z up)."""
    ref = gravity_aligned_frame(_real_quest_camera(), up, FORWARD_AXIS["opencv"])
    return {h: (np.linalg.inv(ref) @ np.append(p, 1.0))[:3] for h, p in QUEST_WRISTS.items()}


def test_real_quest_wrists_in_front_left_on_the_left_below_the_eyes_in_a_y_up_world() -> None:
    cam = _real_quest_camera()
    for p in QUEST_WRISTS.values():
        assert (np.linalg.inv(cam) @ np.append(p, 1.0))[2] > 0.3  # in front of the SLAM camera (metres)
    wrists = _in_reference(WORLD_UP["quest3"])
    assert all(w[0] > 0.05 for w in wrists.values())  # ahead of the wearer
    assert wrists[0][1] > wrists[1][1] + 0.2  # the left wrist on the left, 0.3 m apart
    assert all(-0.45 < w[2] < -0.2 for w in wrists.values())  # at the table, 0.3 m under the eyes
    z_up = _in_reference(WORLD_UP["aria"])  # Aria's convention on Quest 3's numbers mirrors the hands
    assert z_up[0][1] < z_up[1][1]


def test_the_fixture_quest_world_is_the_samples(tmp_path) -> None:
    seq = next(s for s in write_hot3d(tmp_path).good if s.headset == "Quest3")
    adapter = Hot3DAdapter()
    raw = adapter.read(next(r for r in adapter.discover(tmp_path) if r.raw_id == seq.raw_id))
    assert raw.metadata["world_up"] == [0.0, 1.0, 0.0] and raw.hands.up_world.tolist() == [0.0, 1.0, 0.0]
    dev = raw.states["headset/T_world_device"]
    np.testing.assert_allclose(np.diff(dev.timestamps), 1 / 30, atol=1e-9)  # one stamp per frame, as the sample's
    np.testing.assert_allclose(dev.values[0, :3, 3], REAL_HEADSET["Quest3"], atol=1e-12)
    first = np.array([raw.states[f"objects/{uid}"].values[0, :3, 3] for uid in raw.metadata["objects"]])
    assert sorted(map(tuple, first)) == sorted(REAL_OBJECTS["Quest3"])


def test_a_headset_hot3d_does_not_record_with_is_refused(tmp_path) -> None:
    write_hot3d(tmp_path, quest=False)
    meta = next(tmp_path.rglob("metadata.json"))
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "headset": "Quest2"}))
    ref = next(Hot3DAdapter().discover(tmp_path))
    with pytest.raises(AdapterError, match="'Quest2' is not one HOT3D records with") as err:
        Hot3DAdapter().read(ref)
    assert err.value.field == "headset" and err.value.episode == ref.raw_id
