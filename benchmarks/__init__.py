r"""Benchmarks: every figure is a ratio against a baseline timed in the same process.

Run all with ``python -m benchmarks``; one suite with ``python -m benchmarks synth``.
"""
