"""Aria MPS (Machine Perception Services) hand tracking with its SLAM trajectory and calibration (`adapter.py`)."""
