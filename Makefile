# Two entry points for a fresh machine with only Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
CONSTRAINTS := docker/constraints.txt
STAMP  := $(VENV)/.eidata-installed
# lerobot 0.6.1 (LeRobot v3.0), the second format oracle: Python >= 3.12 and its own torch, so its own venv
ORACLE_V30_PYTHON ?= env PYENV_VERSION=3.12.1 python3.12  # pyenv here; a plain python3.12 elsewhere
ORACLE_V30 := .venv-oracle-v30
ORACLE_V30_STAMP := $(ORACLE_V30)/.eidata-installed-training
DEMO_OUT ?= demo_out
# every test target ends with the 25 slowest tests and their times, so the suite's time is read where it goes
DURATIONS := --durations=25
# each tier stops at 35 minutes: CI (.ci/run: the install, then both tiers) then ends within its 90 with its output
# kept, which a run hanging until CI's own limit loses (a submission was lost so, with nothing printed)
TIER_LIMIT := --session-timeout=2100
, := ,# a comma inside $(call ...) arguments: $(,)

.PHONY: venv oracle-v30 oracle-vitra oracle-mano oracle-octo oracle-gr00t demo test test-long timings test-fast test-all lint bench clean

venv: $(STAMP)

# One line per step saying what it installs, then how long it took; pip itself stays quiet (-q), so what else prints
# is pip's own warnings. A fresh build downloads and unpacks ~2 GB of wheels: minutes, not seconds (README "Setup").
# $(call install,STEP,WHAT,PIP ARGS)
install = @s=$$(date +%s); echo "make venv [$(1)/5] $(2)"; $(PIP) install -q $(3) && \
	echo "make venv [$(1)/5] done in $$(( $$(date +%s) - s )) s"

# torch goes first from the local CPU wheel; the constraints file then keeps every later step from replacing it.
# The two --no-deps packages go last: pip checks the declared dependencies of everything installed whenever a later
# step installs with dependencies, and would then print lerobot 0.3.3's unmet pins as "ERROR: pip's dependency
# resolver ..." (an --no-deps install checks nothing).
$(STAMP): pyproject.toml $(CONSTRAINTS) docker/requirements-oracle.txt
	@echo "make venv: building $(VENV) with $(PYTHON) (first time only)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call install,1,torch 2.13.0 (CPU wheel),torch==2.13.0)
	$(call install,2,eidata (editable) with its dependencies and the test tools: ray$(,) duckdb$(,) pyarrow$(,) av$(,) \
	mujoco$(,) pytest ... (the long step),-c $(CONSTRAINTS) -e '.[test$(,)lingbot]')
	$(call install,3,what the lerobot 0.3.3 oracle needs: datasets 3.6.0$(,) jsonlines,-c $(CONSTRAINTS) \
	-r docker/requirements-oracle.txt)
	# lerobot 0.3.3 is only a test oracle, run in a subprocess: its declared pins (torch<2.8, torchvision) cannot hold here.
	$(call install,4,lerobot 0.3.3 without its dependencies (the v2.1 test oracle),--no-deps lerobot==0.3.3)
	# HOT3D video (adapters/aria.py): projectaria-tools' VRS reader imports only numpy; its declared deps
	# (jupyter, rerun-sdk[notebook], moviepy: pillow<11) cannot be resolved beside our pillow>=13, hence no extra.
	$(call install,5,projectaria-tools 2.3.0 without its dependencies (HOT3D VRS video),--no-deps projectaria-tools==2.3.0)
	touch $(STAMP)
	@echo "make venv: $(VENV) ready"

# The venvs hold many of the same files (torch 2.13 in three, OpenCV, pyarrow, SymPy, SciPy ...): after each oracle's
# install, util-linux's hardlink makes identical files one on disk (the six venvs 14 -> 11 GiB on a fresh clone, 2 s;
# files of 64 KiB and up, the same mode and owner), so a CI machine short of disk gets through the install. pip never
# writes into a linked file: it unlinks a file before writing it (pip/_internal/operations/install/wheel.py, File.save).
# Where hardlink is missing the copies stay. The shell globs the folders: make's $(wildcard) lists them once, at start.
share_files = command -v hardlink >/dev/null 2>&1 && hardlink -q -t -s 64K $(VENV) .venv-oracle-* || true

oracle-v30: $(ORACLE_V30_STAMP)

# tests/oracle/fixture_v30.py runs tests/oracle/lerobot_v30_oracle.py with it (a subprocess, never imported by pytest);
# [training] (accelerate, wandb) for lerobot-train on the exports (tests/jobs/export/lerobot_v3/test_clients.py)
$(ORACLE_V30_STAMP):
	test -x $(ORACLE_V30)/bin/python || $(ORACLE_V30_PYTHON) -m venv $(ORACLE_V30)
	$(ORACLE_V30)/bin/pip install -q --disable-pip-version-check 'lerobot[dataset,training]==0.6.1'
	$(share_files)
	touch $(ORACLE_V30_STAMP)

# VITRA's Ego4D undistortion (microsoft/VITRA data/preprocessing/undistort_video.py) needs OpenCV's contrib modules
# (cv2.omnidir), which cannot sit beside the project's opencv: tests/adapters/vitra/test_adapter.py runs it here
ORACLE_VITRA := .venv-oracle-vitra
oracle-vitra: $(ORACLE_VITRA)/.eidata-installed

$(ORACLE_VITRA)/.eidata-installed:
	test -x $(ORACLE_VITRA)/bin/python || $(PYTHON) -m venv $(ORACLE_VITRA)
	$(ORACLE_VITRA)/bin/pip install -q --disable-pip-version-check "numpy>=2.2,<2.5" "opencv-contrib-python-headless>=4.10,<5.1" "ffmpeg-python==0.2.0"
	$(share_files)
	touch $@

# The MANO makers' own loaders (tests/oracle/mano/: ARCTIC's, TACO's, HOI4D's, VITRA's code, fetched as real samples)
# run here in a subprocess, with what they import (docker/requirements-oracle-mano.txt: smplx, chumpy, OpenCV; manopth
# is not on PyPI and runs from the makers' snapshots; OakInk2's toolkit and manotorch, HOT3D's data_loaders: trimesh,
# networkx, OpenCV). A maker's further package goes on that list. HOT3D's data_loaders import projectaria_tools' SE3,
# installed without its declared dependencies (jupyter, rerun-sdk) as in the project's venv.
ORACLE_MANO := .venv-oracle-mano
oracle-mano: $(ORACLE_MANO)/.eidata-installed

$(ORACLE_MANO)/.eidata-installed: $(CONSTRAINTS) docker/requirements-oracle-mano.txt
	test -x $(ORACLE_MANO)/bin/python || $(PYTHON) -m venv $(ORACLE_MANO)
	$(ORACLE_MANO)/bin/pip install -q --disable-pip-version-check -c $(CONSTRAINTS) -r docker/requirements-oracle-mano.txt
	$(ORACLE_MANO)/bin/pip install -q --disable-pip-version-check --no-deps projectaria-tools==2.3.0
	$(share_files)
	touch $@

# Octo's own OXE standardization (the real sample octo_maker_code: octo/data/oxe/ and the dlimp reader it runs on)
# checks the oxe adapter frame for frame (tests/adapters/oxe/test_octo_oracle.py runs tests/oracle/octo_oxe_oracle.py
# here in a subprocess): TensorFlow (CPU) and TFDS, nothing of the project's (docker/requirements-oracle-octo.txt).
ORACLE_OCTO := .venv-oracle-octo
oracle-octo: $(ORACLE_OCTO)/.eidata-installed

$(ORACLE_OCTO)/.eidata-installed: docker/requirements-oracle-octo.txt
	test -x $(ORACLE_OCTO)/bin/python || $(PYTHON) -m venv $(ORACLE_OCTO)
	$(ORACLE_OCTO)/bin/pip install -q --disable-pip-version-check -r docker/requirements-oracle-octo.txt
	# Octo's furniture_bench transform imports tensorflow_graphics.geometry.transformation (euler.from_quaternion);
	# its declared deps would replace tensorflow-cpu 2.19 with tensorflow 2.21, and that module needs none of them
	$(ORACLE_OCTO)/bin/pip install -q --disable-pip-version-check --no-deps tensorflow-graphics==2021.12.3
	$(share_files)
	touch $@

# GR00T's own LeRobotSingleDataset (the real sample gr00t_loader: NVIDIA/Isaac-GR00T@f4e12be gr00t/) reads what
# `eidata export --format gr00t` writes (tests/jobs/export/test_gr00t_loader.py runs tests/jobs/export/gr00t_consumer.py
# here in a subprocess): the CPU torch, decord, numpydantic, albumentations ... (docker/requirements-oracle-gr00t.txt).
# torchvision goes last with --no-deps: 0.21.0, GR00T's pin (gr00t/utils/video.py imports it at module level), whose
# declared torch==2.6.0 cannot hold beside ours; its PyPI `_C` does not load beside a CPU torch, so the harness declares
# the `nms` op it registers (jobs/export/README.md, GR00T).
ORACLE_GR00T := .venv-oracle-gr00t
oracle-gr00t: $(ORACLE_GR00T)/.eidata-installed

$(ORACLE_GR00T)/.eidata-installed: $(CONSTRAINTS) docker/requirements-oracle-gr00t.txt
	test -x $(ORACLE_GR00T)/bin/python || $(PYTHON) -m venv $(ORACLE_GR00T)
	$(ORACLE_GR00T)/bin/pip install -q --disable-pip-version-check -c $(CONSTRAINTS) -r docker/requirements-oracle-gr00t.txt
	$(ORACLE_GR00T)/bin/pip install -q --disable-pip-version-check --no-deps torchvision==0.21.0
	$(share_files)
	touch $@

demo: $(STAMP)
	$(BIN)/eidata demo --out $(DEMO_OUT)

# every format oracle's venv: a prerequisite of every target that runs the whole suite (under CI=true a missing one fails)
ORACLES := $(ORACLE_V30_STAMP) $(ORACLE_VITRA)/.eidata-installed $(ORACLE_MANO)/.eidata-installed \
	$(ORACLE_OCTO)/.eidata-installed $(ORACLE_GR00T)/.eidata-installed

# `make test` under 15 minutes on 2 cores: every module but the long ones tests/long_modules.toml lists (measured,
# tests/tiering.py); `make test-long` runs those, and CI (.ci/run) runs both. `make timings` re-measures the whole
# suite and rewrites the list.
test: $(STAMP) $(ORACLES)
	$(BIN)/python -m pytest -m "not long" $(DURATIONS) $(TIER_LIMIT) $(PYTEST_ARGS)

test-long: $(STAMP) $(ORACLES)
	$(BIN)/python -m pytest -m long $(DURATIONS) $(TIER_LIMIT) $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: no long module listed

timings: $(STAMP) $(ORACLES)
	rm -f .timings.tsv
	$(BIN)/python -m pytest --timings .timings.tsv $(DURATIONS) $(PYTEST_ARGS)
	$(BIN)/python -m tests.tiering .timings.tsv

# The everyday loop, a few minutes: unit tests only, no scenario (Ray jobs, oracles, servers, SIGKILL and smoke runs,
# tests/conftest.py marks them) and nothing slow. `make test` stays the whole suite, as CI runs it.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not scenario and not slow" $(DURATIONS) $(PYTEST_ARGS)

test-all: $(STAMP) $(ORACLES)
	$(BIN)/python -m pytest --runslow $(DURATIONS) $(PYTEST_ARGS)

# mypy checks the files [tool.mypy] of pyproject.toml names: the step chain and the storage room, to grow each round
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/python -m mypy

# Benchmarks run as modules (`-m`): as scripts, benchmarks/ingest.py would hide the `ingest` package.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.writer
	$(BIN)/python -m benchmarks.adapters
	$(BIN)/python -m benchmarks.canonicalize
	$(BIN)/python -m benchmarks.episode_checks
	$(BIN)/python -m benchmarks.ingest --scale 1 --reps 1 --long-episodes 2
	$(BIN)/python -m benchmarks.train_step
	$(BIN)/python -m benchmarks.qa
	$(BIN)/python -m benchmarks.kinematics
	$(BIN)/python -m benchmarks.joint_space
	$(BIN)/python -m benchmarks.footage
	$(BIN)/python -m benchmarks.commit
	$(BIN)/python -m benchmarks.discovery
	$(BIN)/python -m benchmarks.latents
	$(BIN)/python -m benchmarks.export_v3
	$(BIN)/python -m benchmarks.quantile_stats
	$(BIN)/python -m benchmarks.behaviour
	$(BIN)/python -m benchmarks.bucket_output
	$(BIN)/python -m benchmarks.train_bucket

clean:
	rm -rf $(VENV) $(ORACLE_V30) $(ORACLE_VITRA) $(ORACLE_MANO) $(ORACLE_OCTO) $(ORACLE_GR00T) $(DEMO_OUT) .pytest_cache \
		.ruff_cache
