"""ROS bags (ROS 2 MCAP and sqlite3, ROS 1 `.bag`) read with `rosbags`: see `adapter.py`."""
