"""Native streams (`ingest.canonical.natives`): which of a source's own streams are kept beside the canonical dims,
and how they land on the 10 Hz grid (floats linearly, integers and flags by hold), named per component."""

from __future__ import annotations

import numpy as np

from adapters.base import Stream
from ingest.canonical.natives import (
    MAX_NATIVE_STREAM_DIMS,
    MAX_NATIVE_VECTOR_DIMS,
    native_streams,
    resample_natives,
    stream_width,
    too_wide,
)

T = np.arange(5) / 5.0  # 5 Hz


def _s(values: np.ndarray, names: tuple[str, ...] | None = None) -> Stream:
    return Stream(T[: len(values)], values, names)


def test_a_vector_is_kept_up_to_its_limit_and_a_tensor_up_to_its_own() -> None:
    assert stream_width(_s(np.zeros(5))) == 1 and stream_width(_s(np.zeros((5, 3, 4)))) == 12
    assert not too_wide(_s(np.zeros((5, MAX_NATIVE_VECTOR_DIMS))))
    assert too_wide(_s(np.zeros((5, MAX_NATIVE_VECTOR_DIMS + 1))))
    assert not too_wide(_s(np.zeros((5, 4, MAX_NATIVE_STREAM_DIMS // 4))))
    assert too_wide(_s(np.zeros((5, 5, 13))))  # 65 dims as a (5, 13) tensor per step: a tensor's limit


def test_kept_streams_are_numeric_not_empty_not_derived_and_sorted_by_name() -> None:
    streams = {
        "z.float": _s(np.zeros((5, 2))),
        "a.int": _s(np.arange(5)),
        "text": _s(np.array(["x"] * 5)),
        "empty": Stream(np.zeros(0), np.zeros((0, 3))),
        "derived": _s(np.zeros(5)),
        "wide": _s(np.zeros((5, MAX_NATIVE_VECTOR_DIMS + 1))),
    }
    assert [k for k, _ in native_streams(streams, {"derived"})] == ["a.int", "z.float"]


def test_floats_are_interpolated_integers_held_and_columns_named_per_component() -> None:
    grid = np.array([0.0, 0.1, 0.2, 0.3])
    floats = _s(np.column_stack([np.arange(5.0), 10 * np.arange(5.0)]), names=("x", "y"))
    ints = _s(np.array([0, 1, 2, 3, 4]))
    arr, names = resample_natives([("pos", floats), ("step", ints)], grid)
    assert names == ["pos.x", "pos.y", "step.0"]
    assert arr.dtype == np.float32 and arr.shape == (4, 3)
    np.testing.assert_allclose(arr[:, 0], [0.0, 0.5, 1.0, 1.5])  # linear between the 5 Hz samples
    np.testing.assert_allclose(arr[:, 2], [0, 0, 1, 1])  # the last sample at or before each grid time
    assert resample_natives([], grid) == (None, [])


def test_names_that_do_not_fit_the_width_fall_back_to_indices() -> None:
    arr, names = resample_natives([("v", _s(np.zeros((5, 3)), names=("only_one",)))], np.array([0.0, 0.2]))
    assert names == ["v.0", "v.1", "v.2"] and arr.shape == (2, 3)
