"""Canonicalization: raw episodes to the canonical 10 Hz hand-centric space, validity and quality."""
