r"""Closed-form bounds (sympy) and exact SERs of the hard languages their proofs use.

* :data:`FENG_TER` — Feng et al.'s n-gram TER bound with its hidden constants as parameters;
  :func:`fit_ter_rate`, :func:`optimal_log_ter`.
* :data:`SER_BOUNDS` — exact SER of the hard languages (pair-copy, block-copy, all-equal) under the
  linear schedule, plus ``*_weights`` (any ancestral schedule) and ``*_counts`` (fixed counts) forms;
  :func:`closed_form_ser` picks the right one for a language (by its ``spec``) and a schedule.
* ``pair_copy``, ``block_copy``, ``all_equal`` are re-exported from ``synth`` (where they live).
* :data:`LI_CAI_KL` and :func:`total_mutual_information`; exact E_M KL of pair-copy and all-equal
  (:func:`closed_form_kl`, derived here) and :data:`PAIR_COPY_ANY_ANCESTRAL` (linear minimises SER).
"""
from mdmlab.theory.bound import Bound
from mdmlab.theory.information import (ExpectedKL, InformationCurve, expected_kl, information_curve,
                                       optimal_counts, step_costs)
from mdmlab.theory.kl import LI_CAI_KL, MutualInformation, total_mutual_information
from mdmlab.synth import all_equal, block_copy, pair_copy
from mdmlab.theory.ser import (ALL_EQUAL_LINEAR, BLOCK_COPY_LINEAR, PAIR_COPY_LINEAR, all_equal_ser_counts,
                        block_copy_ser_weights, closed_form_ser, pair_copy_ser_counts, pair_copy_slope)
from mdmlab.theory.ser import BOUNDS as SER_BOUNDS
from mdmlab.theory.ser import PAIR_COPY_ANY_ANCESTRAL, pair_copy_same_step_probability
from mdmlab.theory.exact_kl import (ALL_EQUAL_KL_COUNTS, PAIR_COPY_KL_COUNTS, all_equal_kl_counts, closed_form_kl,
                                    pair_copy_kl_counts, pair_copy_kl_weights)
from mdmlab.theory.ter import FENG_TER, TerFit, fit_ter_rate, optimal_log_ter

__all__ = ["information_curve", "InformationCurve", "expected_kl", "ExpectedKL", "optimal_counts", "step_costs",
           "Bound", "FENG_TER", "TerFit", "fit_ter_rate", "optimal_log_ter", "SER_BOUNDS", "PAIR_COPY_LINEAR",
           "ALL_EQUAL_LINEAR", "BLOCK_COPY_LINEAR", "pair_copy_ser_counts", "all_equal_ser_counts",
           "block_copy_ser_weights", "closed_form_ser", "pair_copy_slope", "LI_CAI_KL", "MutualInformation",
           "total_mutual_information", "pair_copy", "block_copy", "all_equal", "PAIR_COPY_ANY_ANCESTRAL",
           "pair_copy_same_step_probability", "ALL_EQUAL_KL_COUNTS", "PAIR_COPY_KL_COUNTS", "all_equal_kl_counts",
           "closed_form_kl", "pair_copy_kl_counts", "pair_copy_kl_weights"]
