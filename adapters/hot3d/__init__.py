"""HOT3D sequences: ground-truth hands, headset and objects (`adapter.py`)."""
