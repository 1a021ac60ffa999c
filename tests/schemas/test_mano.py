"""The declared MANO convention (`schemas.mano`): each form's row shape, and forms or PCA sizes that do not exist
refused when declared rather than when evaluated."""

from __future__ import annotations

import pytest

from schemas.mano import MANO_FORMS, ManoConvention


def test_each_form_has_its_row_shape() -> None:
    shapes = {form: ManoConvention(form, 6).row_shape() for form in MANO_FORMS}
    assert shapes == {"pca": (6,), "axis_angle": (45,), "rotmat": (15, 3, 3), "quat_wxyz": (15, 4)}
    assert ManoConvention() == ManoConvention("pca", 15, flat_hand_mean=False, left_on_right=False, wrist_at="transl")


@pytest.mark.parametrize(("form", "k"), [("euler", 15), ("pca", 0), ("pca", 46)])
def test_an_unknown_form_or_pca_size_is_refused(form: str, k: int) -> None:
    with pytest.raises(ValueError, match=r"form|num_pca_comps"):
        ManoConvention(form, k)  # type: ignore[arg-type]
