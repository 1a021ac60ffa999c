"""Forward kinematics over the robot descriptions shipped in `schemas/robots/descriptions/`: `load_model("<stem>")`
gives a `KinematicModel` whose `forward(q, links)` gives float64 link poses for a whole episode in one call, by MuJoCo
(`engine.py`; why MuJoCo, and how pinocchio checks it: README.md)."""

from ingest.kinematics.description import DescriptionError, robots_dir
from ingest.kinematics.model import KinematicModel, load_model

__all__ = ["DescriptionError", "KinematicModel", "load_model", "robots_dir"]
