r"""Metrics, sweeps, scaling fits, reports and the ``mdmlab`` command line."""
