"""Ego-Exo4D ego-pose 3D hand annotations with the Aria camera poses and video of each take (`adapter.py`)."""
