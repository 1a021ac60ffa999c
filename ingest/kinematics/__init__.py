"""Forward kinematics over the robot descriptions shipped in `schemas/robots/descriptions/`.

`load_model("<stem>")` reads `schemas/robots/descriptions/<stem>.urdf` (trimmed URDF from its maker's published
description, citing repo, path and commit in its header) and returns a `KinematicModel` whose `forward(q, links)`
gives float64 link poses for a whole episode in one call, by MuJoCo (`engine.py`). It was chosen over pinocchio and
pytorch-kinematics by speed per core, installed size and upkeep (README.md; BENCHMARKS.md, "Forward kinematics");
pinocchio, an independent implementation with its own URDF parser, checks every link of every description against it
and our parser (`description.py`, which refuses uncited files and names the file and element in every error) in the
tests.
"""

from ingest.kinematics.description import DescriptionError, robots_dir
from ingest.kinematics.model import KinematicModel, load_model

__all__ = ["DescriptionError", "KinematicModel", "load_model", "robots_dir"]
