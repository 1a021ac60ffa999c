"""The YAML data files (schemas/data_file.py): a file that is not YAML, or not what its model says,
is refused with its path and the first cause; the shipped files validate."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from schemas.data_file import read_yaml
from schemas.robots.eef_offsets import EEF_OFFSETS_YAML, EefOffsetsFile
from schemas.robots.joint_space import JOINT_SPACE_YAML, JointSpaceFile


class _Pair(BaseModel):
    a: int


def test_a_bad_file_names_itself_and_its_cause(tmp_path: Path) -> None:
    path = tmp_path / "robots.yaml"
    path.write_text("a: [1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{path}: .*flow sequence"):
        read_yaml(path, _Pair)
    path.write_text("a: one\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{path}: .*\na\n .*valid integer"):
        read_yaml(path, _Pair)
    path.write_text("a: 1\n", encoding="utf-8")
    assert read_yaml(path, _Pair) == _Pair(a=1)


@pytest.mark.parametrize(("path", "model"), [(JOINT_SPACE_YAML, JointSpaceFile), (EEF_OFFSETS_YAML, EefOffsetsFile)])
def test_the_shipped_files_validate(path: Path, model: type[BaseModel]) -> None:
    assert read_yaml(path, model)
