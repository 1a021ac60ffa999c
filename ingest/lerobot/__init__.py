"""The LeRobot v2.1 writer: dataset lifecycle, staged episodes, tables, stats, video."""
