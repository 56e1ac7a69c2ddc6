"""Gravity and the camera's height from where the feet stand, not from how the body leans.

The floor is a plane below the camera: with `up` the unit world up in camera axes and `height`
the camera's height above the floor, a sole point on the floor at viewing ray u (unit, camera
axes) lies at depth height / (-up . u). Each contact (a sole point on the floor, weight w)
compares that with its measured depth. Depths are compared in log (a monocular depth error
is a fraction of the depth, and a wrong overall scale, e.g. from the field of view, changes
only `height`), along the ray (the direction of a point is measured well, its depth badly:
fitting a plane to the 3D points instead lets depth noise spread them along the rays and
tilts the plane until the camera nearly lies in it, ~0.3 m high on the aerobics clip).

Feet that stay in one place pin down one combination of pitch and height only; the rest
comes from priors, each a Gaussian term of the same least-squares problem:
- a level horizon (roll ~ 0: footage is filmed upright), ROLL_SIGMA_DEG;
- a camera at about a person's chest height, HEIGHT_M, LOG_HEIGHT_SIGMA (log-normal);
- a camera looking roughly level, PITCH_MEAN_DEG, PITCH_SIGMA_DEG;
- the body's own up (from its feet to its pelvis, averaged over stance), BODY_SIGMA_DEG: a weak
  cue, as a leaning runner, a dribbler bent over the ball or MediaPipe's own lean bias would
  tilt the world with it.
Contacts at one place share their errors (MediaPipe's depth of a foot relative to the body is
off by centimetres, the same way while the pose lasts): the contacts in each CELL_M square of
floor count as one sample together, so a person who stays on one spot leaves pitch to the
priors and one who walks about the room sets it. A sample's depth error is CONTACT_DEPTH_M,
and never below MIN_LOG_SIGMA of its depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

ROLL_SIGMA_DEG = 3.0
PITCH_MEAN_DEG, PITCH_SIGMA_DEG = 5.0, 15.0
HEIGHT_M, LOG_HEIGHT_SIGMA = 1.35, 0.3
BODY_SIGMA_DEG = 10.0
CELL_M = 0.3  # side of the floor squares whose contacts count as one sample
CONTACT_DEPTH_M = 0.05  # depth error of one place's contacts
MIN_LOG_SIGMA = 0.03  # the same as a fraction of the depth, at least
MIN_COSINE = 1e-3  # a ray at or above the horizon never meets the floor


@dataclass(frozen=True)
class Gravity:
    """up (3,): unit world up in camera axes (x right, y down, z forward); height: the camera's
    height above the floor (m); places: the floor cells with contacts (independent samples)."""

    up: np.ndarray
    height: float
    places: int

    @property
    def pitch_roll_deg(self) -> tuple[float, float]:
        """Degrees the camera looks down (pitch) and is rolled."""
        return pitch_roll_deg(self.up)


def up_from_pitch_roll(pitch: float, roll: float) -> np.ndarray:
    """(3,) world up in camera axes for a camera pitched down by `pitch` and rolled by `roll` (rad)."""
    return np.array([np.cos(pitch) * np.sin(roll), -np.cos(pitch) * np.cos(roll), -np.sin(pitch)])


def pitch_roll_deg(up: np.ndarray) -> tuple[float, float]:
    """The inverse of `up_from_pitch_roll`, in degrees."""
    return float(np.degrees(np.arcsin(np.clip(-up[2], -1, 1)))), float(np.degrees(np.arctan2(up[0], -up[1])))


def _residuals(params: np.ndarray, rays: np.ndarray, log_depth: np.ndarray, weight: np.ndarray, sigma: np.ndarray,
               body_up: np.ndarray | None) -> np.ndarray:
    pitch, roll, log_height = params
    up = up_from_pitch_roll(pitch, roll)
    cosine = np.clip(-(rays @ up), MIN_COSINE, None)
    floor = np.sqrt(weight) * (log_depth - (log_height - np.log(cosine))) / sigma
    priors = [np.degrees(roll) / ROLL_SIGMA_DEG, (np.degrees(pitch) - PITCH_MEAN_DEG) / PITCH_SIGMA_DEG,
              (log_height - np.log(HEIGHT_M)) / LOG_HEIGHT_SIGMA]
    if body_up is not None:  # the chord between the two directions: the angle, for small angles
        priors.extend((up - body_up) / np.radians(BODY_SIGMA_DEG))
    return np.concatenate([floor, priors])


def place_weights(points: np.ndarray, weights: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, int]:
    """Weights (M,) that make the contacts of each CELL_M floor square (horizontal along `up`) sum
    to one sample, and the number of squares."""
    basis = np.linalg.svd(np.eye(3) - np.outer(up, up))[0][:, :2]
    cells = np.floor(points @ basis / CELL_M).astype(np.int64)
    _, cell, count = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    totals = np.bincount(cell.reshape(-1), weights=weights, minlength=len(count))
    return weights / totals[cell.reshape(-1)], len(count)


def fit_gravity(points: np.ndarray, weights: np.ndarray, body_up: np.ndarray | None, up: np.ndarray) -> Gravity:
    """Gravity from sole points on the floor (M, 3), camera axes with the camera at the origin (a
    moving camera: each point relative to its own frame's camera, which keeps its height),
    their weights (M,) in [0, 1], the body's up (3,) or None, and the current guess of up
    (which floor squares the contacts fall in). Without contacts only the priors speak."""
    ok = np.isfinite(points).all(axis=1) & (weights > 0)
    points, weights = points[ok], weights[ok]
    depth = np.linalg.norm(points, axis=1)
    rays = points / np.maximum(depth, 1e-9)[:, None]
    weight, places = place_weights(points, weights, up) if len(points) else (weights, 0)
    sigma = np.hypot(CONTACT_DEPTH_M / np.maximum(depth, 1e-9), MIN_LOG_SIGMA)
    pitch, roll = np.radians(pitch_roll_deg(up))
    params = np.array([pitch, roll, np.log(HEIGHT_M)])
    body = None if body_up is None else body_up / np.linalg.norm(body_up)
    params = least_squares(_residuals, params, args=(rays, np.log(depth), weight, sigma, body)).x
    return Gravity(up_from_pitch_roll(params[0], params[1]), float(np.exp(params[2])), places)
