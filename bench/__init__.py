"""Benchmarks: our streaming pipeline and handler against a naive pandas version.

Run from the repository root, e.g. `python -m bench.pipeline_bench --help`.
"""
