"""The declared MANO convention (`schemas.mano`): each form's row shape, and forms or PCA sizes that do not exist
refused when declared rather than when evaluated."""

from __future__ import annotations

import pytest

from schemas.mano import MAKERS, MANO_FORMS, ManoConvention


def test_each_form_has_its_row_shape() -> None:
    shapes = {form: ManoConvention(form, 6).row_shape() for form in MANO_FORMS}
    assert shapes == {"pca": (6,), "axis_angle": (45,), "rotmat": (15, 3, 3), "quat_wxyz": (15, 4)}
    assert ManoConvention() == ManoConvention("pca", 15, flat_hand_mean=False, left_on_right=False, wrist_at="transl")


@pytest.mark.parametrize(("form", "k"), [("euler", 15), ("pca", 0), ("pca", 46)])
def test_an_unknown_form_or_pca_size_is_refused(form: str, k: int) -> None:
    with pytest.raises(ValueError, match=r"form|num_pca_comps"):
        ManoConvention(form, k)  # type: ignore[arg-type]


def test_the_makers_conventions_are_as_their_loaders_feed_them() -> None:
    assert {k: (c.form, c.flat_hand_mean, c.wrist_at) for k, c in MAKERS.items()} == {
        "hot3d": ("pca", False, "transl"),  # smplx MANO, PCA + mean, transl
        "arctic": ("axis_angle", False, "transl"),  # smplx MANO(use_pca=False, flat_hand_mean=False)
        "hoi4d": ("axis_angle", True, "transl"),  # manopth ManoLayer(use_pca=False, flat_hand_mean=True) + trans
        "taco": ("axis_angle", True, "joint"),  # manopth ManoLayer(use_pca=False, center_idx=0) + hand_trans
        "oakink2": ("quat_wxyz", True, "joint"),  # manotorch rot_mode quat, center_idx 0, + tsl
        "vitra": ("rotmat", True, "joint"),  # smplx MANOLayer, R @ (J - J0) + T
    }
    assert MAKERS["arctic"].tips == "smplx" and MAKERS["taco"].tips == "manopth"  # smplx's selector, manopth's
    assert not any(c.left_on_right for c in MAKERS.values())  # VITRA's left hands set it per hand
