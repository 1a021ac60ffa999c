"""lerobot-doctor 0.2.0 and lerobot-lint 0.1.1 beside eidata's behaviour QA on LeRobot datasets with planted defects
(`RESULTS.md`). `cases.py` builds the cases (numpy, pyarrow, PyAV only: it runs in either venv), `ours.py` runs the
behaviour QA in the project venv, `lint.py` writes each case as a LeRobot v3.0 dataset with lerobot 0.6.1 and runs both
linters in their own venv (`.venv-linters`)."""
