"""Ego4D Goal-Step: goals, steps and substeps as windows of the Ego4D videos (`adapter.py`)."""
