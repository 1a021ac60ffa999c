"""The LeRobot dataset format every reader, writer and export shares (README.md: what it holds and may import)."""
