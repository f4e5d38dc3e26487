"""Projection model: from a workload card and measurements to step time, memory and error
band on any candidate cluster. See `api.py` (one candidate) and `vectorized.py` (many)."""
