r"""The exact masked-diffusion sampler, its count and position policies, its exact law, and the torch
denoiser (``models.denoiser``, ``models.training``; imported lazily so the sampler does not load torch)."""
from models.exact import exact_law, log_prob_given_reveal
from models.policies import POLICIES
from models.sampler import ExactDenoiser, SampleResult, reveal_partitions, sample
from models.schedules import NAMES as SCHEDULES
from models.schedules import Schedule


def __getattr__(name):
    if name in ("Denoiser", "DenoiserConfig"):
        from models import denoiser

        return getattr(denoiser, name)
    if name in ("train", "TrainConfig", "TrainResult", "load_denoiser"):
        from models import training

        return getattr(training, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")


__all__ = ["sample", "SampleResult", "ExactDenoiser", "reveal_partitions", "exact_law", "log_prob_given_reveal",
           "Schedule", "SCHEDULES", "POLICIES", "Denoiser", "DenoiserConfig", "train", "TrainConfig", "TrainResult",
           "load_denoiser"]
