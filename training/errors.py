"""The trainer's data error: one class, raised wherever a file the manifest points at does not hold what it should."""

from __future__ import annotations


class DataError(ValueError):
    """A file the manifest points at is missing or does not hold what the contract says; names file and field."""
