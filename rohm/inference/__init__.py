"""Inference: the paper's Algorithm 1 over any-length motion, as a pipeline of stages, and the shipped weights."""

from rohm.inference.reconstructor import Reconstructor
from rohm.inference.settings import Settings

__all__ = ["Reconstructor", "Settings"]
