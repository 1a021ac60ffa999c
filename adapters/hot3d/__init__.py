"""HOT3D sequences: ground-truth hands, headset and objects (`adapter.py`), the files as the maker reads them
(`files.py`) and UmeTrack landmark skinning (`umetrack.py`)."""
