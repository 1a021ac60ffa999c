"""LeRobot v2.x/v3 datasets as a source: layout, episode reading, format checks."""
