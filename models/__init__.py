r"""The exact masked-diffusion sampler, its count and position policies, its exact law, and the torch
denoiser (``models.denoiser``, ``models.training``; imported lazily so the sampler does not load torch)."""
from mdmlab.models.exact import exact_law, log_prob_given_reveal
from mdmlab.models.policies import POLICIES
from mdmlab.models.sampler import ExactDenoiser, SampleResult, planned_method, reveal_partitions, sample
from mdmlab.models.schedules import NAMES as SCHEDULES
from mdmlab.models.schedules import DreamCounts, LLaDACounts, Schedule, TimeGrid
from mdmlab.models import presets, remask
from mdmlab.models.adaptive import (AdaptiveLaw, AdaptiveResult, ConfidenceThreshold, EntropyBounded, Replay,
                                    adaptive_law, replay, replay_log_prob, sample_adaptive)


def __getattr__(name):
    if name in ("Denoiser", "DenoiserConfig"):
        from mdmlab.models import denoiser

        return getattr(denoiser, name)
    if name in ("train", "TrainConfig", "TrainResult", "load_denoiser"):
        from mdmlab.models import training

        return getattr(training, name)
    raise AttributeError(f"module 'mdmlab.models' has no attribute {name!r}")


__all__ = ["sample", "SampleResult", "ExactDenoiser", "reveal_partitions", "planned_method", "exact_law",
           "log_prob_given_reveal",
           "Schedule", "SCHEDULES", "POLICIES", "TimeGrid", "LLaDACounts", "DreamCounts", "presets", "remask",
           "Denoiser", "DenoiserConfig", "train", "TrainConfig", "TrainResult", "load_denoiser",
           "sample_adaptive", "EntropyBounded", "ConfidenceThreshold", "AdaptiveResult", "replay",
           "replay_log_prob", "Replay", "adaptive_law", "AdaptiveLaw"]
