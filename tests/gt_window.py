"""A ground-truth window as the networks see it: shared by the reconstructor and guidance tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rohm.inference import Reconstructor
from rohm.io.motion_file import Motion, load_motion
from rohm.representation import canonical_frame, encode
from rohm.representation.canonical import apply_frames


def gt_window(rec: Reconstructor, clip: Path) -> tuple[Motion, torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """The clip's first window as normalised trajectory/pose features in its canonical frame:
    (ground truth, trajectory features, pose features, rest joints, [canonical frame])."""
    gt = load_motion(clip)
    n = rec.window
    t = lambda a: torch.as_tensor(np.asarray(a[:n]), dtype=torch.float64)  # noqa: E731
    frame = canonical_frame(gt.joints[:n], None, gt.root_orient[:n], floor_height=0.0)
    rest = rec.body.rest_joints(torch.as_tensor(gt.betas)[None])[0]
    joints, orient, trans = apply_frames(t(gt.joints)[None], t(gt.root_orient)[None], t(gt.trans)[None],
                                         rest[0][None], [frame])
    feats = rec.normalizer.normalize(encode(joints, orient, trans, t(gt.pose_body)[None], torch.as_tensor(gt.betas)[None],
                                            t(gt.contacts)[None], rec.normalizer.layout)).float()
    return gt, feats[..., list(rec.normalizer.layout.traj_abs)], feats[..., rec.normalizer.layout.local], rest.float(), [frame]
