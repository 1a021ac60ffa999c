"""The package's YAML data files (the robots' tables, source layouts, training presets), each validated by its model."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, model: type[M]) -> M:
    """`path` validated by `model`; ValueError naming the file and pydantic's field path when it is unusable. Read at
    import (the registry's tables): libyaml's safe loader where installed, 15x faster than PyYAML's own."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return model.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
    except Exception as e:  # yaml or pydantic: either way the file is unusable; say which file
        raise ValueError(f"{path}: {e}") from e
