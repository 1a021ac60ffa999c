"""RoboMIND (X-Humanoid): one HDF5 per episode, per-robot layouts (`adapter.py`)."""
