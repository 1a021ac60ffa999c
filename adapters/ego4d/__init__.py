"""Ego4D narrations: `adapter.py` (one episode per narration window, the fields documented), `videos.py` (where a
video is, full-scale mp4 or clips, and an episode read as a window of it; shared with `adapters/ego4d_goalstep/`)."""
