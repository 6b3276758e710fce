r"""The exact masked-diffusion sampler, its count and position policies, and its exact law."""
from models.exact import exact_law, log_prob_given_reveal
from models.policies import POLICIES
from models.sampler import ExactDenoiser, SampleResult, reveal_partitions, sample
from models.schedules import NAMES as SCHEDULES
from models.schedules import Schedule

__all__ = ["sample", "SampleResult", "ExactDenoiser", "reveal_partitions", "exact_law", "log_prob_given_reveal", "Schedule", "SCHEDULES",
           "POLICIES"]
