"""Benchmarks: figures beside a reference measured in the same run (never timed tests)."""
