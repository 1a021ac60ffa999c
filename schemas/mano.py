"""How a source gives a MANO hand: the form of its hand pose and the conventions around it, as its makers' loaders
use them. An adapter declares them (`adapters.base.ManoParams.convention`); `ingest.canonical.mano.evaluate` converts
every form to the one the MANO layer takes (45 axis-angle values of the full articulation).

Forms, each as the makers' code feeds it to its MANO layer:
- `pca`: k coefficients on the model's `hands_components`, smplx's `MANO(use_pca=True)`; the mean pose is added
  unless `flat_hand_mean` (vchoutas/smplx@1265df7:smplx/body_models.py:1683-1688, `full_pose += self.pose_mean`).
  HOT3D (`adapters/hot3d`).
- `axis_angle`: 45 values, 15 joints x (x, y, z), smplx's `MANO(use_pca=False)`, the mean added the same way. ARCTIC:
  smplx `MANO(use_pca=False, flat_hand_mean=False)` per side, with `transl` (zc-alexfan/arctic@49f3eb4:
  common/body_models.py:128-142), 21 joints by smplx's vertex-joint selector (docs/setup.md:65-72: smplx's tips).
  TACO: manopth `ManoLayer(use_pca=False, ncomps=45, center_idx=0)` (flat_hand_mean its default True), 48 values =
  3 global + 45, joints / 1000 + `hand_trans`: the wrist joint at `hand_trans` (leolyliu/TACO-Instructions@c06f82c:
  dataset_utils/hand_pose_loader.py:33-65, manopth/manopth/manolayer.py:19-21,270-294). HOI4D: manopth
  `ManoLayer(use_pca=False, flat_hand_mean=True)`, `poseCoeff` 48 = 3 global + 45, joints / 1000 + `trans`
  (leolyliu/HOI4D-Instructions@1547866:README.md:136-155).
- `rotmat`: (15, 3, 3) local rotations, smplx's `MANOLayer` (`pose2rot=False`), which adds no mean
  (vchoutas/smplx@1265df7:smplx/body_models.py:1730-1762): such poses are `flat_hand_mean=True`. VITRA
  (microsoft/VITRA@c68b65e:visualization/visualize_core.py:373-416, through HaMeR's `MANOLayer` wrapper
  `libs/models/mano_wrapper.py`).
- `quat_wxyz`: (15, 4) unit quaternions w first, one per joint. OakInk2's `{lh,rh}__pose_coeffs` are (16, 4) w first,
  the root's then these 15 (split in `adapters.oakink2.adapter`), through manotorch `ManoLayer(rot_mode="quat",
  center_idx=0, use_pca=False, flat_hand_mean=True)` per side, joints + `tsl`: the wrist joint at `tsl`
  (oakink/OakInk2-PreviewTool@63365c6:README.md:226-237, src/oakink2_preview/launch/viz/seg_3d.py:127-143,187-210).

`fix_left_shapedirs`: whether the maker's layer repairs the official MANO_LEFT's flaw (its shape directions' x
component equals MANO_RIGHT's instead of its negation, smplx issue #48) before posing a left hand. The parameters were
fitted through the maker's layer, so eidata follows it (checked by running the maker's code,
tests/adapters/<source>/test_maker_code.py). ARCTIC (smplx's `MANO` as is), TACO and HOI4D (manopth's `ManoLayer`,
which reads the pickle as shipped) and OakInk2 (manotorch's `ManoLayer` registers the pickle's `shapedirs` as read,
lixiny/manotorch@933be97:manotorch/manolayer.py:74-76, the commit OakInk2 pins as its submodule) do not repair it:
their left hands' betas mean the flawed model's shape. HOT3D's repairs it (facebookresearch/hot3d@e814021:
hot3d/data_loaders/mano_layer.py: `shapedirs[:, 0, :] *= -1` when the two x components nearly agree): the default.

`left_on_right`: a left hand posed on MANO_RIGHT and mirrored across its x axis before the global rotation, the way
VITRA builds both hands from the right model only (visualize_core.py:405-414: `joints[:, :, 0] *= -1`, then
`R @ (J - J0) + T`). `wrist_at`: whether the wrist translation is MANO's `transl` parameter (the wrist joint then sits
at J0(betas) + transl, smplx's convention) or the wrist joint's own position (VITRA's `transl_worldspace`, equal to
its `joints_worldspace[:, 0]` to 3e-8 m on the real sample).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ManoPoseForm = Literal["pca", "axis_angle", "rotmat", "quat_wxyz"]
MANO_FORMS: tuple[ManoPoseForm, ...] = ("pca", "axis_angle", "rotmat", "quat_wxyz")
NUM_HAND_JOINTS = 15


@dataclass(frozen=True)
class ManoConvention:
    """The form and conventions of a declared MANO hand pose (module docstring)."""

    form: ManoPoseForm = "pca"
    num_pca_comps: int = 15  # `pca` only: how many coefficients each row holds
    flat_hand_mean: bool = False  # True: the pose is the whole articulation; False: an offset from `hands_mean`
    left_on_right: bool = False  # a left hand given on MANO_RIGHT, mirrored across x (VITRA)
    wrist_at: Literal["transl", "joint"] = "transl"  # the wrist stream's translation: MANO's `transl` or the joint
    tips: Literal["manopth", "smplx"] = "manopth"  # fingertip vertices (`ingest.canonical.mano.model.TIP_VERTICES`)
    fix_left_shapedirs: bool = True  # repair MANO_LEFT's shape directions (smplx #48) as the maker's layer does

    def __post_init__(self) -> None:
        if self.form not in MANO_FORMS:
            raise ValueError(f"MANO pose form {self.form!r} is not one of {MANO_FORMS}")
        if self.form == "pca" and not 1 <= self.num_pca_comps <= 45:
            raise ValueError(f"num_pca_comps must be in 1..45, got {self.num_pca_comps}")

    def row_shape(self) -> tuple[int, ...]:
        """The shape of one frame of the pose stream in this form."""
        return {
            "pca": (self.num_pca_comps,),
            "axis_angle": (3 * NUM_HAND_JOINTS,),
            "rotmat": (NUM_HAND_JOINTS, 3, 3),
            "quat_wxyz": (NUM_HAND_JOINTS, 4),
        }[self.form]


# Each maker's convention as its loader feeds its MANO layer (module docstring); an adapter of the source declares it.
MAKERS: dict[str, ManoConvention] = {
    "hot3d": ManoConvention("pca", 15),
    "arctic": ManoConvention("axis_angle", tips="smplx", fix_left_shapedirs=False),
    "hoi4d": ManoConvention("axis_angle", flat_hand_mean=True, fix_left_shapedirs=False),
    "taco": ManoConvention("axis_angle", flat_hand_mean=True, wrist_at="joint", fix_left_shapedirs=False),
    "oakink2": ManoConvention("quat_wxyz", flat_hand_mean=True, wrist_at="joint", fix_left_shapedirs=False),
    "vitra": ManoConvention("rotmat", flat_hand_mean=True, wrist_at="joint", tips="smplx"),
}
