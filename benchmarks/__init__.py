"""Benchmarks, each a module run from the repository root: `.venv/bin/python -m benchmarks.<name> [flags]`.

Run as modules, never as scripts: `python benchmarks/x.py` puts this folder first on `sys.path`, where a file named
like a package (`ingest.py`, `adapters.py`) hides that package. `-m` puts the repository root there instead. Every
benchmark has a `--smoke` run of a few seconds, which `tests/benchmarks/test_smoke.py` runs as `make bench` runs it.
Figures and the exact commands behind them are in BENCHMARKS.md.
"""
