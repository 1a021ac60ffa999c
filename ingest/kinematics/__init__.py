"""Forward kinematics over the robot descriptions shipped in `schemas/robots/`.

`load_model("<stem>")` reads `schemas/robots/<stem>.urdf` (a trimmed URDF transcribed from its maker's published
description, citing repo, path and commit in its header) and returns a `KinematicModel` whose `forward(q, links)`
gives float64 link poses for a whole episode at once.

Why pytorch-kinematics (`pytorch-kinematics` 0.10) and not pinocchio (`pin`) or mujoco, measured on this repository's
machine (figures and commands in BENCHMARKS.md, "Forward kinematics"):

- Batched: one call computes every frame of an episode as a few batched torch matmuls per tree depth. pinocchio and
  mujoco compute one configuration per call from Python (`pin.forwardKinematics` / `mj_kinematics`), so an episode
  is a Python loop, slower per frame than the batched path by the factor BENCHMARKS.md records.
- Install weight: pure Python on torch, which we already depend on (~0.6 MB plus lxml, absl-py,
  arm_pytorch_utilities, pytorch_seed); `pin` brings ~380 MB of cmeel C++ wheels (boost, coal, assimp, urdfdom),
  mujoco ~a C engine and its own wheel. pinocchio stays in the `test` extra as the independent implementation the
  tests compare against.
- Maintenance: pytorch-kinematics (UM-ARM-Lab) parses URDF and MJCF and is released regularly; we pin 0.10.x and
  guard the one internal we rely on (see `model._float64_chain`).
"""

from ingest.kinematics.description import DescriptionError, robots_dir
from ingest.kinematics.model import KinematicModel, load_model

__all__ = ["DescriptionError", "KinematicModel", "load_model", "robots_dir"]
