"""AgiBot Genie Sim / A2D exports (`<job>/<sn>/<episode>/aligned_joints.h5`): `adapter` (discovery, one episode),
`files` (layout, JSON, inclusive `action_config`), `h5` (`aligned_joints.h5`), `quat` (quaternion order)."""
