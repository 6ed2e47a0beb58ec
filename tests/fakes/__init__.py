"""Local servers that speak the real protocols of outside systems, for tests and benchmarks."""
