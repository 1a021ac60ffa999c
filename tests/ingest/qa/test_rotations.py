"""QA rotations (`ingest/qa/rotations.py`): a 6D rotation back to its matrix as `frames` builds it, and a bad row
a matrix with NaN in it, never an error."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ingest.frames import matrix_to_rot6d
from ingest.qa.rotations import rotations


def test_six_d_rotations_come_back_as_their_matrices() -> None:
    R = Rotation.random(16, random_state=0).as_matrix()
    np.testing.assert_allclose(rotations(matrix_to_rot6d(R)), R, atol=1e-12)
    scaled = matrix_to_rot6d(R) * np.r_[[3.0] * 3, [0.5] * 3]  # unnormalised columns read the same
    np.testing.assert_allclose(rotations(scaled), R, atol=1e-12)


def test_a_bad_row_is_a_nan_matrix_and_the_others_stand() -> None:
    rows = np.array([[1.0, 0, 0, 0, 1, 0], [0.0] * 6, [np.nan] * 6, [1, 0, 0, 2, 0, 0]])  # last: parallel columns
    out = rotations(rows)
    np.testing.assert_allclose(out[0], np.eye(3), atol=1e-12)
    assert not np.isfinite(out[1:]).all(axis=(1, 2)).any()  # no usable matrix for a bad row
