r"""The exact masked-diffusion sampler, schedules and unmasking policies, and the torch denoiser.

Filled by the sampler issue; empty for now.
"""
