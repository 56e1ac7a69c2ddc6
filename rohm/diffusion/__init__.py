"""Diffusion schedules and samplers for x0-predicting networks (paper Sec. 3 and 4.3)."""

from rohm.diffusion.sampler import (
    Guidance,
    GuidanceFn,
    GuidanceWeightFn,
    ModelFn,
    gradient_guidance,
    sample,
)
from rohm.diffusion.schedule import (
    DiffusionSchedule,
    GaussianDiffusion,
    RespacedSchedule,
)

__all__ = [
    "DiffusionSchedule",
    "GaussianDiffusion",
    "Guidance",
    "GuidanceFn",
    "GuidanceWeightFn",
    "ModelFn",
    "RespacedSchedule",
    "gradient_guidance",
    "sample",
]
