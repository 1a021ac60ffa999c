"""EgoDex (Apple): one HDF5 of ARKit poses plus one egocentric mp4 per episode (`adapter.py`)."""
