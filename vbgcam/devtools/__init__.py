"""Tools for developers (benchmarks, reference data); nothing here runs during a call."""
