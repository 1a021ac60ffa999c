"""Forward kinematics over the robot descriptions shipped in `schemas/robots/`.

`load_model("<stem>")` reads `schemas/robots/<stem>.urdf` (a trimmed URDF transcribed from its maker's published
description, citing repo, path and commit in its header) and returns a `KinematicModel` whose `forward(q, links)`
gives float64 link poses for a whole episode in one call.

The evaluation is our own batched kernel (`forward.py`, Rodrigues over [3, 3, N] numpy arrays, only along the
requested links' ancestors), checked against pinocchio on every link of every description (tests) and against MuJoCo
on the Panda. We measured the libraries first (BENCHMARKS.md, "Forward kinematics", same run, one core, Panda flange):

- pytorch-kinematics 0.10, the batched torch library we meant to build on, evaluates every frame of the tree as
  4x4 matrices under masks: 8 to 13x slower than ours in the recorded runs and, on the full Panda + hand tree,
  under the 50k frames/s target on this shared machine. It also builds each joint origin from float32 numbers (its
  urdf.py), 2.5e-8 m off here. Keeping it would have meant patching its private tensors to float64 and calling its
  private kernel on a pruned tree, for a kernel still slower than a Python loop over pinocchio.
- pinocchio (`pin` 4.1) is exact and fast per configuration, but an episode is a Python loop of one call per frame,
  and the wheel set is ~350 MB (cmeel boost, coal, assimp, eigenpy). It stays in the `test` extra as the
  independent implementation the tests compare against.
- MuJoCo 4.0 (32 MB) loads the URDF too, but is also one `mj_kinematics` call per frame from Python, and brings a
  physics engine we do not need.

The URDF parser (`description.py`) is ours as well: it is what refuses uncited files, reads mimic joints, and names
the file and element in every error; pinocchio's independent parser (urdfdom) reading the same files is what checks it.
"""

from ingest.kinematics.description import DescriptionError, robots_dir
from ingest.kinematics.model import KinematicModel, load_model

__all__ = ["DescriptionError", "KinematicModel", "load_model", "robots_dir"]
