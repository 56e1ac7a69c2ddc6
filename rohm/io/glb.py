"""Motion -> glTF 2.0 binary (.glb): the motion's own body mesh, skinned to the 22 joints, animated.

What the file holds (written with pygltflib):
- nodes 0..21: the 22 body joints (`rohm.skeleton.JOINT_NAMES`, parents `PARENTS`); their default
  transforms are the body's zero pose (a T-pose, y-up, facing +z): translation = the rest bone,
  no rotation. Node 22 carries the skinned mesh "body".
- one skin over the 22 joints and one animation "motion": every frame is a key (time k / fps,
  LINEAR), a rotation channel per joint (its local axis-angle as a quaternion, SMPL-X
  conventions as in `rohm.body.kinematics`) and a translation channel on the pelvis
  (rest pelvis + trans). Blender, three.js and other glTF viewers then play the motion on the
  motion's own body, at its frame rate.

The mesh, its bind pose and its weights over the 22 joints come from the body model
(`BodyModel.skin`). Four influences per vertex (the most three.js reads; the few dropped
weights are tiny).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygltflib as gl
import roma
import torch

from rohm.body import BodyModel, Skin, load_body
from rohm.io.atomic import atomic_path
from rohm.io.export import check_exportable
from rohm.io.motion_file import Motion
from rohm.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

INFLUENCES = 4  # joints per vertex (JOINTS_0 / WEIGHTS_0)
BODY_COLOUR = (0.62, 0.66, 0.74, 1.0)  # base colour, linear RGBA


def top_influences(weights: np.ndarray, k: int = INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) weights -> the k largest per vertex: joint indices (V, k) and weights (V, k) summing
    to 1 in float32 (the largest absorbs the rounding)."""
    joints = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    kept = np.take_along_axis(weights, joints, axis=1)
    kept = (kept / kept.sum(axis=1, keepdims=True)).astype(np.float32)
    kept[:, 0] = np.float32(1.0) - kept[:, 1:].sum(axis=1, dtype=np.float32)
    joints = np.where(kept > 0, joints, 0)
    return joints.astype(np.uint8), kept


def local_quaternions(motion: Motion) -> np.ndarray:
    """(N, 22, 4) XYZW unit quaternions of the joints' local rotations, each joint's sign chosen
    to follow the previous frame (so interpolation between keys takes the short way)."""
    rotvecs = np.concatenate([motion.root_orient[:, None], motion.pose_body.reshape(-1, NUM_JOINTS - 1, 3)], axis=1)
    quats = roma.rotvec_to_unitquat(torch.as_tensor(rotvecs, dtype=torch.float64)).numpy()
    flips = np.sum(quats[1:] * quats[:-1], axis=-1) < 0
    sign = np.concatenate([np.ones((1, NUM_JOINTS)), np.cumprod(np.where(flips, -1.0, 1.0), axis=0)])
    return quats * sign[..., None]


class _Blob:
    """The binary chunk: 4-byte aligned buffer views with their accessors."""

    def __init__(self, doc: gl.GLTF2) -> None:
        self.doc, self.data = doc, bytearray()

    def add(self, array: np.ndarray, kind: str, target: int | None = None, minmax: bool = False) -> int:
        """Append an array (count, ...) as one accessor; returns its index."""
        component = {np.dtype(np.float32): gl.FLOAT, np.dtype(np.uint8): gl.UNSIGNED_BYTE,
                     np.dtype(np.uint16): gl.UNSIGNED_SHORT, np.dtype(np.uint32): gl.UNSIGNED_INT}[array.dtype]
        raw = np.ascontiguousarray(array).tobytes()
        view = gl.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw), target=target)
        self.doc.bufferViews.append(view)
        self.data += raw + b"\0" * (-len(raw) % 4)
        flat = array.reshape(len(array), -1)
        accessor = gl.Accessor(bufferView=len(self.doc.bufferViews) - 1, componentType=component, count=len(array),
                               type=kind)
        if minmax:
            accessor.min, accessor.max = flat.min(axis=0).tolist(), flat.max(axis=0).tolist()
        self.doc.accessors.append(accessor)
        return len(self.doc.accessors) - 1


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit area-weighted vertex normals (+y for a vertex in no triangle)."""
    tri = vertices[faces]
    face_normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normal)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 1e-12, normals / np.maximum(length, 1e-12), np.array([0.0, 1.0, 0.0]))


def motion_glb(motion: Motion, skin: Skin) -> gl.GLTF2:
    """The glTF document of a motion (with complete body parameters) on a skinned body."""
    doc = gl.GLTF2(asset=gl.Asset(version="2.0", generator="rohm (pygltflib)"), scene=0,
                   scenes=[gl.Scene(name="rohm", nodes=[0, NUM_JOINTS])])
    blob = _Blob(doc)
    rest = skin.rest_joints
    for j, (name, parent) in enumerate(zip(JOINT_NAMES, PARENTS)):
        offset = rest[j] - (rest[parent] if parent >= 0 else 0.0)
        children = [c for c, p in enumerate(PARENTS) if p == j]
        doc.nodes.append(gl.Node(name=name, translation=offset.tolist(), children=children or None))
    faces = skin.faces.astype(np.uint16 if len(skin.bind_vertices) < 65535 else np.uint32)
    joints, weights = top_influences(skin.joint_weights)
    bind = skin.bind_vertices.astype(np.float32)
    attributes = gl.Attributes(
        POSITION=blob.add(bind, gl.VEC3, gl.ARRAY_BUFFER, minmax=True),
        NORMAL=blob.add(vertex_normals(skin.bind_vertices, skin.faces).astype(np.float32), gl.VEC3, gl.ARRAY_BUFFER),
        JOINTS_0=blob.add(joints, gl.VEC4, gl.ARRAY_BUFFER),
        WEIGHTS_0=blob.add(weights, gl.VEC4, gl.ARRAY_BUFFER),
    )
    indices = blob.add(faces.reshape(-1), gl.SCALAR, gl.ELEMENT_ARRAY_BUFFER, minmax=True)
    doc.materials.append(gl.Material(name="body", pbrMetallicRoughness=gl.PbrMetallicRoughness(
        baseColorFactor=list(BODY_COLOUR), metallicFactor=0.0, roughnessFactor=0.8)))
    primitive = gl.Primitive(attributes=attributes, indices=indices, material=0)
    doc.meshes.append(gl.Mesh(name="body", primitives=[primitive]))
    # glTF matrices are column-major.
    ibm = blob.add(skin.inverse_bind.transpose(0, 2, 1).astype(np.float32), gl.MAT4)
    doc.skins.append(gl.Skin(name="body", joints=list(range(NUM_JOINTS)), skeleton=0, inverseBindMatrices=ibm))
    doc.nodes.append(gl.Node(name="body", mesh=0, skin=0))

    times = blob.add((np.arange(motion.num_frames) / motion.fps).astype(np.float32), gl.SCALAR, minmax=True)
    quats = local_quaternions(motion).astype(np.float32)
    samplers = [gl.AnimationSampler(input=times, output=blob.add(quats[:, j], gl.VEC4), interpolation=gl.ANIM_LINEAR)
                for j in range(NUM_JOINTS)]
    channels = [gl.AnimationChannel(sampler=j, target=gl.AnimationChannelTarget(node=j, path=gl.ROTATION))
                for j in range(NUM_JOINTS)]
    root = (rest[0] + motion.trans).astype(np.float32)
    samplers.append(gl.AnimationSampler(input=times, output=blob.add(root, gl.VEC3), interpolation=gl.ANIM_LINEAR))
    channels.append(gl.AnimationChannel(sampler=NUM_JOINTS,
                                        target=gl.AnimationChannelTarget(node=0, path=gl.TRANSLATION)))
    doc.animations.append(gl.Animation(name="motion", samplers=samplers, channels=channels))
    doc.scenes[0].extras = {"fps": float(motion.fps), "frames": motion.num_frames, "body_model": motion.body_model,
                            "betas": np.asarray(motion.betas if motion.betas is not None else [], dtype=float).tolist()}
    doc.buffers.append(gl.Buffer(byteLength=len(blob.data)))
    doc.set_binary_blob(bytes(blob.data))
    return doc


def glb_bytes(motion: Motion, body: BodyModel | None = None) -> bytes:
    """The .glb file of a motion with body parameters, as bytes."""
    check_exportable(motion, "glTF")
    body = body or load_body()
    betas = (body.default_betas if motion.betas is None
             else torch.as_tensor(motion.betas[: body.num_betas], dtype=torch.float64))
    motion = Motion(joints=motion.joints, fps=motion.fps, trans=motion.trans, root_orient=motion.root_orient,
                    pose_body=motion.pose_body, betas=betas.numpy(), body_model=body.name)
    return b"".join(motion_glb(motion, body.skin(betas)).save_to_bytes())


def export_glb(motion: Motion, out: str | Path, body: BodyModel | None = None) -> Path:
    """Write `motion` (with body parameters) as a .glb file, atomically."""
    data = glb_bytes(motion, body)
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return out
