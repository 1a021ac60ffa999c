"""Humanoid Everyday (USC GVL; Unitree G1 and H1): task zips or folders of `data.json` episodes (`adapter.py`)."""
