r"""Closed-form bounds (sympy) and the hard languages their proofs use.

Filled by the theory issue; empty for now.
"""
