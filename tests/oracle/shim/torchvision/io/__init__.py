"""Empty on purpose: lerobot's `VideoReader` path is replaced by the oracle's PyAV decoder."""
