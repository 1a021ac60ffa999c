"""RoboMIND (X-Humanoid) adapter: per-episode HDF5 release, per-robot layouts."""
