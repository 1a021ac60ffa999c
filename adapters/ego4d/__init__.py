"""Ego4D narrations (`adapter.py`) and the videos both Ego4D sources cut windows from (`videos.py`)."""
