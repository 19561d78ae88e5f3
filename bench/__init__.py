"""Benchmarks: run one with `.venv/bin/python -m bench.<name>` from the repository root; each prints
its figures (see bench/README.md). Not tests: nothing here asserts a goal, it measures."""
