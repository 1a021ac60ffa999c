"""A source whose hands are MANO parameters only needs the model folder: given, it is handed on as a string; missing,
the episode's error names the option, the file and the episode."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.hand_reading import Reading
from adapters.registry import get_adapter


@pytest.mark.parametrize("name", ["arctic", "hoi4d", "oakink2", "taco"])
def test_the_model_folder_is_required_and_named(name: str, tmp_path: Path) -> None:
    given = get_adapter(name, {"mano_model_dir": str(tmp_path)})
    assert Reading(given, "e").mano_dir(name, "x") == str(tmp_path)
    with pytest.raises(AdapterError, match="hands are MANO parameters only") as e:
        Reading(get_adapter(name), "seq").mano_dir(name, "seq/anno.pkl")
    assert (e.value.field, e.value.file, e.value.episode, e.value.adapter) == (
        "mano_model_dir",
        "seq/anno.pkl",
        "seq",
        name,
    )
