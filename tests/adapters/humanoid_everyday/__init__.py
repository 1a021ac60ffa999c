"""Tests of the Humanoid Everyday adapter (`adapters/humanoid_everyday/`)."""
