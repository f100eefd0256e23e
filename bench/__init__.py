"""Benchmarks. Each prints its figures and writes bench/results/<name>.json."""
