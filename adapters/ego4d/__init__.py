"""Ego4D: narrations and Goal-Step segments as windows of the same videos (`adapter.py` documents the fields).

`options.py` (options, file names), `videos.py` (where a video is: full-scale mp4 or clips), `narration.py`
(narration windows), `goalstep.py` (goals, steps and substeps, with the maker's schema cited)."""

from adapters.ego4d.adapter import Ego4DAdapter  # registration on import
from adapters.ego4d.options import Ego4DOptions

__all__ = ["Ego4DAdapter", "Ego4DOptions"]
