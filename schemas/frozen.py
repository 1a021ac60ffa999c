"""The house's contract record: a pydantic model immutable once made that refuses an unknown key, naming it, so a
typo in a job spec or a data file is an error, never a default silently kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A frozen record refusing unknown keys; a subclass's own `model_config` adds to this one (pydantic merges)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
