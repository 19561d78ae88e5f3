"""Benchmarks: run one with `.venv/bin/python bench/<name>.py`; each prints its figures."""
