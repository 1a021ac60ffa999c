"""The EgoDex writer (`adapters/synthetic/egodex.py`) against the layout the maker's code and public parsers read
(apple/ml-egodex `utils/data_utils.py`; pxxq25/egodex-dexhand-retargeting `src/egodex_dexhand/data.py`;
no sample may be redistributed, CC-BY-NC-ND): `<task>/<idx>.hdf5` beside `<idx>.mp4` at 30 Hz, `camera/intrinsic`
(3,3), `transforms/camera` and the 68 named joints as (T,4,4), `confidences/<joint>` (T,) except on old episodes,
which carry `description` instead of the `llm_*` attributes; and Apple's geometry: `inv(T_world_camera) @
T_world_joint` projected with the intrinsic alone puts both hands on the image, in front, the left one on the left."""

from __future__ import annotations

import av
import h5py
import numpy as np
import pytest

from adapters.synthetic.egodex import JOINTS, EgoDexFixture, write_egodex

# the hand joints a parser reads by name (data.py's 21-keypoint mapping), on both sides
HAND_JOINTS = ("Hand", "ThumbKnuckle", "ThumbTip", "IndexFingerKnuckle", "IndexFingerTip", "LittleFingerTip")
LLM_ATTRS = {"llm_description", "llm_type", "llm_verbs", "llm_objects", "task", "environment", "object"}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> EgoDexFixture:
    return write_egodex(tmp_path_factory.mktemp("egodex"), episodes_per_task=2, num_frames=12)


def test_the_files_and_datasets_a_parser_reads(fixture: EgoDexFixture) -> None:
    new = next(e for e in fixture.good if not e.old)
    assert new.hdf5.parent == new.mp4.parent and new.hdf5.stem == new.mp4.stem and new.hdf5.stem.isdigit()
    with h5py.File(new.hdf5) as f:
        assert f["camera/intrinsic"].shape == (3, 3)
        assert set(f["transforms"]) == {"camera", *JOINTS} and len(JOINTS) == 68
        assert {f"{s}{j}" for s in ("left", "right") for j in HAND_JOINTS} <= set(f["transforms"])
        assert all(f[f"transforms/{j}"].shape == (12, 4, 4) for j in ("camera", *JOINTS))
        assert set(f["confidences"]) == set(JOINTS) and f["confidences/leftHand"].shape == (12,)
        assert set(f.attrs) >= LLM_ATTRS and "description" not in f.attrs
        reversible = f.attrs["llm_type"] == "reversible"
        assert ("llm_description2" in f.attrs) == reversible == ("which_llm_description" in f.attrs)
    with av.open(str(new.mp4)) as c:
        assert c.streams.video[0].average_rate == 30 and c.streams.video[0].frames in (0, 12)


def test_old_episodes_have_no_confidences_and_a_plain_description(fixture: EgoDexFixture) -> None:
    old = next(e for e in fixture.good if e.old)
    with h5py.File(old.hdf5) as f:
        assert "confidences" not in f and "description" in f.attrs
        assert not [a for a in f.attrs if a.startswith("llm_")]


def test_hands_land_on_the_image_as_apples_code_projects_them(fixture: EgoDexFixture) -> None:
    for ep in fixture.good:
        with h5py.File(ep.hdf5) as f:
            cam, k = f["transforms/camera"][()], f["camera/intrinsic"][()]
            side_x = {}
            for side in ("left", "right"):
                world = f[f"transforms/{side}Hand"][()]
                in_cam = np.linalg.inv(cam) @ world  # convert_to_camera_frame: inv(cam_ext) @ tfs
                p = in_cam[:, :3, 3]
                assert (p[:, 2] > 0.2).all() and (p[:, 1] > 0).all(), side  # in front (+z), below the eyes (y down)
                uv = (k @ p.T).T
                uv = uv[:, :2] / uv[:, 2:]
                assert ((uv >= 0) & (uv < [fixture.width, fixture.height])).all(), side
                side_x[side] = p[:, 0].mean()
            assert side_x["left"] < side_x["right"]  # the left hand on the image's left (x right)
