"""Baselines run side by side with rohm on the same inputs: classical smoothing and test-time optimisation.

Every baseline is a callable `Motion -> Motion` (complete joints, same frames and fps as the input).
"""
