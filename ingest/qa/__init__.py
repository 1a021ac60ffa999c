"""Behaviour QA per episode: frozen cameras and states, dead and saturated dims, jumps, idle stretches, tracking,
content fingerprints and near-duplicates, dataset balance. Pure numpy functions returning measured values."""
