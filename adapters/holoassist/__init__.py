"""HoloAssist (Microsoft, HoloLens 2): hand tracking, camera poses and the egocentric mp4 (`adapter.py`)."""
