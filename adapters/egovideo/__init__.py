"""Egocentric video without actions: a folder of videos or WebDataset tar shards (`adapter.py`), read in place."""
