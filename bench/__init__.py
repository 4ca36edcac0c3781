"""Benchmarks: each prints machine-readable figures, its last line one JSON object."""
