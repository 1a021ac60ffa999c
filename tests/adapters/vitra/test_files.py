"""VITRA episode files unpickled by numpy's own globals only (`adapters.vitra.files`): the real sample reads as numpy
reads it, a pickle naming any other global is refused before it runs, a plain array file is not an episode."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from adapters.pickles import UnsafePickle, unpickle_npy
from adapters.vitra.files import vitra_episode
from tests.realdata import realdata

EPISODE = "vitra_ego4d_example/annotations/Ego4D_03cc49c3-a7d1-445b-9a2a-545c4fae6843_ep_example.npy"


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return os.system, (f"touch {self.marker}",)


def _npy(obj: object) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array(obj, dtype=object), allow_pickle=True)
    return buf.getvalue()


def test_the_real_episode_reads_as_numpy_reads_it() -> None:
    ours = unpickle_npy(realdata(EPISODE).read_bytes())
    theirs = np.load(realdata(EPISODE), allow_pickle=True).item()  # the maker's way, on a file we trust
    assert ours.keys() == theirs.keys() and ours["text_rephrase"] == theirs["text_rephrase"]
    for side in ("left", "right"):
        for key, value in theirs[side].items():
            np.testing.assert_array_equal(ours[side][key], value)
    ep = vitra_episode(ours, lambda message, field: ValueError(f"{field}: {message}"))
    assert len(ep.frames) == 25 and ep.hands["right"].kept.all() and not ep.hands["left"].kept.any()
    assert ep.hands["right"].text[0].texts == ("Pick up the spray bottle.",) and ep.hands["right"].text[0].end == 25
    assert ep.hands["left"].rephrase[0].texts[1] == "Take a brush out of the container"  # VITRA's leading space gone


@pytest.mark.parametrize("how", ["top", "nested"])
def test_a_pickle_naming_another_global_is_refused_before_it_runs(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "ran"
    evil = _Exploit(marker)
    payload = {"video_name": evil} if how == "top" else {"left": {"beta": [np.zeros(3), evil]}}
    with pytest.raises(UnsafePickle, match="system"):
        unpickle_npy(_npy(payload))
    assert not marker.exists()


def test_a_plain_array_file_is_not_an_episode() -> None:
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    with pytest.raises(ValueError, match="not one pickled episode"):
        unpickle_npy(buf.getvalue())
