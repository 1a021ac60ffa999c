"""AgiBot Genie Sim / A2D exports (`<job>/<sn>/<episode>/aligned_joints.h5`)."""
