"""Table logs: CSV or Parquet tables of joints, TCP pose and gripper per timestamp (`adapter.py`)."""
