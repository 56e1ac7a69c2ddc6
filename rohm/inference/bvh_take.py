"""A user's BVH take through rohm and back onto the user's own skeleton.

Reading: the joint map turns the file's joints into the 22 body joints (metres, y-up), a body
shape is fitted to them (as for any joints-only input) and the pose retargeted, as the data
build does; the motion keeps the mapped joints as its `joints` (the evidence rohm anchors to)
and the fitted body as its parameters.

Writing poses the file's own hierarchy (`rohm.io.rig.pose_rig`): every source joint the map
uses gets a target position and a turn from the result. Targets: the least-squares source
joints that the map's weights turn into the result's joints, plus the input's own offset
between each source joint and the fitted body (what the body model's proportions cannot express),
kept in the frame of the body bone that carries it and low-pass filtered over time, so a
clean take comes back where it was and a noisy one does not bring its noise back. Turns: how
the corresponding body joint turned in the world between the fitted input and the result,
which carries the twist that positions cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from rohm.body import BodyModel
from rohm.body.ik import retarget
from rohm.body.kinematics import forward_kinematics
from rohm.data.joint_map import JointMap, detect_joint_map, load_joint_map
from rohm.errors import RohmError
from rohm.inference.prepare import fit_body_shape
from rohm.io.bvh import BVH, read_bvh, write_bvh
from rohm.io.motion_file import Motion
from rohm.io.rig import pose_rig
from rohm.skeleton import NUM_JOINTS, PARENTS

OFFSET_SIGMA_S = 0.5  # seconds; low-pass of the source-to-body offsets carried back to the rig


@dataclass
class BvhTake:
    """A BVH file read for rohm, with what writing the result back onto its skeleton needs."""

    path: Path
    bvh: BVH
    joint_map: JointMap
    sources: list[int]  # skeleton indices of the source joints the map uses (S)
    weights: np.ndarray  # (22, S): body joint = weights @ source joints
    to_body: np.ndarray  # (3, 3): body position (metres, y-up) = to_body @ source position
    motion: Motion  # mapped joints, fitted body shape and pose, at the file's frame rate


def resolve_joint_map(spec: str | Path | None, names: list[str], path: str | Path) -> JointMap:
    """The joint map for a BVH with these joint names, spelled as in the file: a JSON file or a
    built-in map by name, or (spec None) the built-in map detected from the names."""
    jmap = detect_joint_map(names, path) if spec is None else load_joint_map(spec)
    return jmap.bind(names, path)  # names the joints the file lacks


def _map_matrix(joint_map: JointMap, names: list[str]) -> tuple[list[int], np.ndarray]:
    """Source joint indices (S) the map uses, in file order, and the (22, S) blend weights."""
    index = {n: i for i, n in enumerate(names)}
    sources = sorted(index[n] for n in joint_map.source_names() if n in index)
    column = {j: k for k, j in enumerate(sources)}
    weights = np.zeros((NUM_JOINTS, len(sources)))
    for b, entry in enumerate(joint_map.sources):
        for name, weight in entry:
            weights[b, column[index[name]]] += weight
    return sources, weights


def read_take(path: str | Path, body: BodyModel, joint_map: str | Path | None = None) -> BvhTake:
    """Read a BVH take as a motion with a fitted body (see the module docstring)."""
    path = Path(path)
    bvh = read_bvh(path)
    names = bvh.skeleton.names
    jmap = resolve_joint_map(joint_map, names, path)
    positions = bvh.global_positions()
    joints = jmap.apply(names, positions, path)
    sources, weights = _map_matrix(jmap, names)
    raw = np.einsum("bs,fsk->fbk", weights, positions[:, sources])
    to_body = np.linalg.lstsq(raw.reshape(-1, 3), joints.reshape(-1, 3), rcond=None)[0].T
    betas = torch.as_tensor(fit_body_shape(joints, np.ones(joints.shape[:2], dtype=bool), body)[0])
    with torch.no_grad():
        fit = retarget(body.rest_joints(betas[None])[0], torch.as_tensor(joints, dtype=torch.float64))
    motion = Motion(joints=joints, fps=bvh.fps, trans=fit.trans.numpy(), root_orient=fit.root_orient.numpy(),
                    pose_body=fit.pose_body.numpy(), betas=betas.numpy(), body_model=body.name,
                    extras={"source": np.asarray(path.name)})
    return BvhTake(path, bvh, jmap, sources, weights, to_body, motion)


def _body_pose(motion: Motion, body: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """Joints (F, 22, 3) and world rotations (F, 22, 3, 3) of a motion's body parameters."""
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        rest = body.rest_joints(t(motion.betas)[None])[0]
        joints, rot = forward_kinematics(rest, t(motion.root_orient), t(motion.pose_body), t(motion.trans))
    return joints.numpy(), rot.numpy()


def _carriers(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per source joint: the body joint it mostly feeds, and the body joint whose bone carries it
    (that joint's parent; the pelvis for the pelvis)."""
    main = weights.argmax(axis=0)
    return main, np.array([max(PARENTS[b], 0) for b in main])


def source_targets(take: BvhTake, result: Motion, body: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """Targets (F, S, 3) of the source joints in the file's units and axes, and their turns (F, S, 3, 3)."""
    joints_in, rot_in = _body_pose(take.motion, body)
    joints_out, rot_out = _body_pose(result, body)
    unmix = np.linalg.pinv(take.weights)  # (S, 22): least-squares source joints of given body joints
    sources_in = take.bvh.global_positions()[:, take.sources] @ take.to_body.T  # (F, S, 3) metres, y-up
    main, carrier = _carriers(take.weights)
    offset = sources_in - np.einsum("sb,fbk->fsk", unmix, joints_in)
    local = np.einsum("fski,fsk->fsi", rot_in[:, carrier], offset)  # in the carrying bone's frame
    local = gaussian_filter1d(local, OFFSET_SIGMA_S * take.bvh.fps, axis=0, mode="nearest")
    targets = np.einsum("sb,fbk->fsk", unmix, joints_out) + np.einsum("fsij,fsj->fsi", rot_out[:, carrier], local)
    turns = rot_out[:, main] @ np.swapaxes(rot_in[:, main], -1, -2)
    back = np.linalg.inv(take.to_body)  # body -> file; turns conjugated (scale cancels)
    return targets @ back.T, back @ turns @ take.to_body


def write_take(take: BvhTake, result: Motion, out: str | Path, body: BodyModel) -> BVH:
    """Pose the take's own skeleton onto `result` (same frames) and write it atomically."""
    if result.num_frames != take.bvh.num_frames or not result.has_params:
        raise RohmError(f"the result has {result.num_frames} frames (with body parameters: {result.has_params}); "
                        f"writing onto the rig needs {take.bvh.num_frames} with parameters", take.path)
    targets, turns = source_targets(take, result, body)
    try:
        posed = pose_rig(take.bvh, {j: targets[:, k] for k, j in enumerate(take.sources)},
                         {j: turns[:, k] for k, j in enumerate(take.sources)})
    except ValueError as exc:
        raise RohmError(f"cannot write the result onto this skeleton: {exc}", take.path) from None
    write_bvh(out, posed)
    return posed


def mapped_positions_m(take: BvhTake, bvh: BVH) -> np.ndarray:
    """Positions (F, S, 3) in metres, y-up, of the source joints the map uses, by forward kinematics."""
    return bvh.global_positions()[:, take.sources] @ take.to_body.T
