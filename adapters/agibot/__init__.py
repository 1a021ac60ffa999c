"""AgiBot World raw episodes: `adapter` (discovery, cameras, language), `proprio` (`proprio_stats.h5`),
`hands` (the hand declaration and the gripper convention, shared with the Genie Sim / A2D exports of
`adapters/agibot_genie/`)."""
