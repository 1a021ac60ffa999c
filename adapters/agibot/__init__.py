"""AgiBot World raw episodes (the hand declaration and gripper convention shared with `adapters/agibot_genie/`)."""
