"""Egocentric video without actions: a folder of videos or WebDataset tar shards (`adapter.py`), read in place."""

from adapters.egovideo import adapter  # noqa: F401 - registration on import
