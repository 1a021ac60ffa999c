"""Ego4D Goal-Step: goals, steps and substeps as windows of the Ego4D videos (`adapter.py`, with the maker's schema
cited); the videos are found as the narration adapter finds them (`adapters/ego4d/videos.py`)."""
