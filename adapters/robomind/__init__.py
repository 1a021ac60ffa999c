"""RoboMIND (X-Humanoid) adapter: per-episode HDF5 release, per-robot layouts (`layouts.py`), images inside the
HDF5 (`camera.py`), the maker's intrinsics (`intrinsics.py`), discovery and reading (`adapter.py`)."""
