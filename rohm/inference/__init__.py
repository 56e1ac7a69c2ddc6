"""Inference: the paper's Algorithm 1 over any-length motion, and the shipped weights."""

from rohm.inference.reconstructor import MDMReconstructor, Reconstructor, Settings

__all__ = ["MDMReconstructor", "Reconstructor", "Settings"]
