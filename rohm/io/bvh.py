"""BVH motion capture files: a vectorised reader, an atomic writer, forward kinematics, and new
channel values written into a file's own channels (`with_channels`, rotations in each joint's
own Euler order, nearest the values already there).

Conventions follow the BVH format itself, so any file round-trips unchanged:
- joints are listed in file order (depth first); an End Site is a joint named
  "<Parent>/End Site" with no channels;
- motion columns are the joints' channels concatenated in that order;
- position channels replace the matching OFFSET component (the usual meaning for 6-channel
  joints); rotation channels compose in the order listed, R = R1 @ R2 @ R3 (intrinsic), degrees;
- units are left as in the file (callers scale centimetres to metres).
Every problem with an input file is a one-line RohmError naming the file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from rohm.errors import RohmError
from rohm.io.atomic import atomic_path

END_SITE = "End Site"
CHANNEL_NAMES = tuple(f"{axis}{kind}" for kind in ("position", "rotation") for axis in "XYZ")
_CANONICAL_CHANNEL = {name.lower(): name for name in CHANNEL_NAMES}
_AXIS = {"X": 0, "Y": 1, "Z": 2}
_MOTION_LINE = re.compile(r"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)


@dataclass
class Skeleton:
    """Joint hierarchy of a BVH file; parents precede their children (parents[j] < j)."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[list[str]]

    def __post_init__(self) -> None:
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        n = len(self.names)
        if len(self.parents) != n or len(self.channels) != n or self.offsets.shape != (n, 3):
            raise ValueError(f"skeleton parts disagree: {n} names, {len(self.parents)} parents, "
                             f"{len(self.channels)} channel lists, offsets {self.offsets.shape}")
        for j, p in enumerate(self.parents):
            if not -1 <= p < j:
                raise ValueError(f"joint {self.names[j]!r} has parent {p}; parents must precede children")
        for j, chans in enumerate(self.channels):
            if any(c not in CHANNEL_NAMES for c in chans) or len(set(chans)) != len(chans):
                raise ValueError(f"joint {self.names[j]!r} has invalid channels {chans}")

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def channel_starts(self) -> list[int]:
        """First motion column of each joint."""
        return np.cumsum([0] + [len(c) for c in self.channels[:-1]]).tolist()


@dataclass
class BVH:
    """A skeleton plus its raw channel values, one row per frame."""

    skeleton: Skeleton
    motion: np.ndarray
    frame_time: float

    def __post_init__(self) -> None:
        self.motion = np.asarray(self.motion, dtype=np.float64)
        if self.motion.ndim != 2 or self.motion.shape[1] != self.skeleton.num_channels:
            raise ValueError(f"motion has shape {self.motion.shape}, expected (F, {self.skeleton.num_channels})")
        if not np.isfinite(self.frame_time) or self.frame_time <= 0:
            raise ValueError(f"frame_time must be positive, got {self.frame_time}")

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    def local_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-joint local rotations (F,J,3,3) and translations (F,J,3) from the channels."""
        sk = self.skeleton
        n_frames, n_joints = self.num_frames, len(sk.names)
        trans = np.repeat(sk.offsets[None], n_frames, axis=0)
        rots = np.broadcast_to(np.eye(3), (n_frames, n_joints, 3, 3)).copy()
        pos_index: list[tuple[int, int, int]] = []  # (joint, axis, column) of each position channel
        # Joints sharing a rotation channel order are composed together, vectorised over joints.
        groups: dict[tuple[int, ...], tuple[list[int], list[list[int]]]] = {}
        for j, (chans, start) in enumerate(zip(sk.channels, sk.channel_starts())):
            pos_index += [(j, _AXIS[c[0]], start + k) for k, c in enumerate(chans) if c.endswith("position")]
            rot_axes = tuple(_AXIS[c[0]] for c in chans if c.endswith("rotation"))
            if rot_axes:
                joints, cols = groups.setdefault(rot_axes, ([], []))
                joints.append(j)
                cols.append([start + k for k, c in enumerate(chans) if c.endswith("rotation")])
        if pos_index:
            pos_joint, pos_axis, pos_col = zip(*pos_index)
            trans[:, list(pos_joint), list(pos_axis)] = self.motion[:, list(pos_col)]
        for axes, (joints, cols) in groups.items():
            angles = np.deg2rad(self.motion[:, np.asarray(cols)])  # (F, Jg, len(axes))
            rot = _axis_rotation(axes[0], angles[..., 0])
            for k in range(1, len(axes)):
                rot = rot @ _axis_rotation(axes[k], angles[..., k])
            rots[:, joints] = rot
        return rots, trans

    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotations (F,J,3,3) and positions (F,J,3) by forward kinematics."""
        local_rot, local_trans = self.local_transforms()
        parents = np.asarray(self.skeleton.parents)
        depth = np.zeros(len(parents), dtype=int)
        for j, p in enumerate(parents):
            depth[j] = depth[p] + 1 if p >= 0 else 0
        glob_rot, glob_pos = local_rot.copy(), local_trans.copy()
        # All joints at one depth depend only on the finished level above: one batched step each.
        for d in range(1, int(depth.max()) + 1):
            js = np.flatnonzero(depth == d)
            ps = parents[js]
            glob_rot[:, js] = glob_rot[:, ps] @ local_rot[:, js]
            glob_pos[:, js] = glob_pos[:, ps] + (glob_rot[:, ps] @ local_trans[:, js, :, None])[..., 0]
        return glob_rot, glob_pos

    def global_positions(self) -> np.ndarray:
        """World positions (F,J,3), in the file's units."""
        return self.global_transforms()[1]

    def global_rotations(self) -> np.ndarray:
        """World rotation matrices (F,J,3,3)."""
        return self.global_transforms()[0]


def _axis_rotation(axis: int, theta: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about one coordinate axis by angles in radians."""
    c, s = np.cos(theta), np.sin(theta)
    out = np.zeros(theta.shape + (3, 3))
    i, k = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., k, k] = c
    out[..., i, k] = -s
    out[..., k, i] = s
    return out


class _Tokens:
    """Whitespace tokens of the HIERARCHY section, with errors that name the file."""

    def __init__(self, text: str, path: Path) -> None:
        self.items = text.split()
        self.pos = 0
        self.path = path

    def done(self) -> bool:
        return self.pos >= len(self.items)

    def next(self, what: str) -> str:
        if self.done():
            raise RohmError(f"HIERARCHY ends early: expected {what} (file truncated?)", self.path)
        self.pos += 1
        return self.items[self.pos - 1]

    def expect(self, token: str, where: str) -> None:
        got = self.next(f"'{token}' {where}")
        if got != token:
            kind = "brace mismatch: " if token in "{}" else ""
            raise RohmError(f"{kind}expected '{token}' {where}, got '{got}'", self.path)

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise RohmError(f"non-numeric {what}: '{tok}'", self.path) from None
        if not np.isfinite(value):
            raise RohmError(f"non-finite {what}: '{tok}'", self.path)
        return value


def _parse_hierarchy(text: str, path: Path) -> Skeleton:
    """Parse the HIERARCHY section into a Skeleton."""
    toks = _Tokens(text, path)
    if toks.done():
        raise RohmError("empty file", path)
    if toks.next("HIERARCHY") != "HIERARCHY":
        raise RohmError("not a BVH file: it does not start with HIERARCHY", path)
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    open_joints: list[int] = []  # joints whose '{' awaits its '}'

    def add(name: str) -> None:
        if name in names:
            raise RohmError(f"duplicate joint name '{name}'", path)
        where = f"for joint '{name}'"
        toks.expect("OFFSET", where)
        offsets.append([toks.number(f"OFFSET value {where}") for _ in range(3)])
        names.append(name)
        parents.append(open_joints[-1] if open_joints else -1)
        channels.append([])

    while not toks.done():
        tok = toks.next("a joint")
        if tok in ("ROOT", "JOINT"):
            if (tok == "ROOT") != (not open_joints):
                raise RohmError("ROOT inside a joint" if tok == "ROOT" else "JOINT outside any ROOT", path)
            name = toks.next(f"a name after {tok}")
            if name in ("{", "}", "OFFSET", "CHANNELS"):
                raise RohmError(f"{tok} without a name", path)
            where = f"for joint '{name}'"
            toks.expect("{", f"after {tok} {name}")
            add(name)
            toks.expect("CHANNELS", where)
            count_tok = toks.next(f"channel count {where}")
            if not count_tok.isdigit() or int(count_tok) > len(CHANNEL_NAMES):
                raise RohmError(f"bad channel count '{count_tok}' {where}", path)
            for _ in range(int(count_tok)):
                chan = toks.next(f"channel name {where}")
                canonical = _CANONICAL_CHANNEL.get(chan.lower())
                if canonical is None:
                    raise RohmError(f"unknown channel '{chan}' {where}", path)
                if canonical in channels[-1]:
                    raise RohmError(f"duplicate channel '{chan}' {where}", path)
                channels[-1].append(canonical)
            open_joints.append(len(names) - 1)
        elif tok == "End":
            if not open_joints:
                raise RohmError("End Site outside any joint", path)
            toks.expect("Site", "after 'End'")
            toks.expect("{", "after End Site")
            add(f"{names[open_joints[-1]]}/{END_SITE}")
            toks.expect("}", f"closing End Site of '{names[open_joints[-1]]}'")
        elif tok == "}":
            if not open_joints:
                raise RohmError("brace mismatch: unexpected '}' after the ROOT was closed", path)
            open_joints.pop()
        else:
            raise RohmError(f"unexpected '{tok}' in HIERARCHY", path)
    if open_joints:
        raise RohmError(f"brace mismatch: {len(open_joints)} unclosed '{{' in HIERARCHY (file truncated?)", path)
    if not names:
        raise RohmError("HIERARCHY has no ROOT joint", path)
    skeleton = Skeleton(names, parents, np.array(offsets), channels)
    if skeleton.num_channels == 0:
        raise RohmError("HIERARCHY declares no channels", path)
    return skeleton


def _header_value(lines: list[str], index: int, label: str, path: Path) -> str:
    """The value after `label` on line `index` of the MOTION section."""
    if index >= len(lines):
        raise RohmError(f"MOTION section ends before '{label}' (file truncated?)", path)
    key, _, value = lines[index].partition(":")
    if " ".join(key.split()) != label[:-1] or not value.strip():
        got = lines[index].strip()
        raise RohmError(f"expected '{label} <value>' in MOTION section, got '{got[:40]}'", path)
    return value.strip()


def _parse_motion(text: str, first_line: int, skeleton: Skeleton, path: Path) -> tuple[np.ndarray, float]:
    """Parse the lines after MOTION into (F, C) values and the frame time."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), first_line) if line.strip()]
    header = [line for _, line in lines[:2]]
    frames_tok = _header_value(header, 0, "Frames:", path)
    time_tok = _header_value(header, 1, "Frame Time:", path)
    if not frames_tok.isdigit():
        raise RohmError(f"bad frame count '{frames_tok}'", path)
    n_frames = int(frames_tok)
    try:
        frame_time = float(time_tok)
    except ValueError:
        raise RohmError(f"non-numeric Frame Time '{time_tok}'", path) from None
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise RohmError(f"Frame Time must be positive, got '{time_tok}'", path)
    if n_frames == 0:
        raise RohmError("no frames (Frames: 0)", path)
    rows = lines[2:]
    if len(rows) != n_frames:
        raise RohmError(f"frame count mismatch: header says {n_frames} frames, {len(rows)} rows present", path)
    n_chan = skeleton.num_channels
    try:
        motion = np.loadtxt(io.StringIO("\n".join(line for _, line in rows)), dtype=np.float64,
                            comments=None, ndmin=2)
    except ValueError:
        motion = None
    if motion is None or motion.shape != (n_frames, n_chan):
        _raise_row_error(rows, n_chan, path)
    if not np.isfinite(motion).all():
        frame = int(np.flatnonzero(~np.isfinite(motion).all(axis=1))[0])
        raise RohmError(f"non-finite value in frame {frame + 1} (line {rows[frame][0]})", path)
    return motion, frame_time


def _raise_row_error(rows: list[tuple[int, str]], n_chan: int, path: Path) -> None:
    """Find the first bad motion row and raise a RohmError describing it."""
    for frame, (line_no, line) in enumerate(rows, 1):
        values = line.split()
        if len(values) != n_chan:
            raise RohmError(f"frame {frame} (line {line_no}) has {len(values)} values, expected {n_chan}", path)
        for value in values:
            try:
                float(value)
            except ValueError:
                raise RohmError(f"non-numeric value '{value}' in frame {frame} (line {line_no})", path) from None
    raise RohmError("cannot parse the motion values", path)


def read_bvh(path: str | Path) -> BVH:
    """Read a BVH file; any malformed input raises a one-line RohmError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RohmError("not a text file (cannot decode as UTF-8)", path) from None
    except OSError as exc:
        raise RohmError(f"cannot read file ({exc.strerror or exc})", path) from None
    match = _MOTION_LINE.search(text)
    skeleton = _parse_hierarchy(text[: match.start()] if match else text, path)
    if match is None:
        raise RohmError("missing MOTION section", path)
    first_line = text.count("\n", 0, match.end()) + 1
    motion, frame_time = _parse_motion(text[match.end():], first_line, skeleton, path)
    return BVH(skeleton, motion, frame_time)


def euler_near(rotations: np.ndarray, axes: str, reference: np.ndarray) -> np.ndarray:
    """Intrinsic Euler angles in degrees (F, 3), axes in channel order (e.g. "ZXY": R = Rz @ Rx @ Ry),
    of rotations (F, 3, 3); of the two equivalent solutions, each shifted by whole turns, the one
    nearest `reference` (F, 3) degrees (e.g. the input's own channels, so unchanged joints keep
    their numbers and no channel jumps by 360 degrees)."""
    first = Rotation.from_matrix(rotations).as_euler(axes, degrees=True)
    second = first * np.array([1.0, -1.0, 1.0]) + np.array([180.0, 180.0, 180.0])
    candidates = np.stack([first, second])  # (2, F, 3)
    candidates += 360.0 * np.round((reference - candidates) / 360.0)
    pick = ((candidates - reference) ** 2).sum(-1).argmin(axis=0)
    return candidates[pick, np.arange(len(first))]


def with_channels(bvh: BVH, local_rotations: dict[int, np.ndarray] | None = None,
                  local_positions: dict[int, np.ndarray] | None = None) -> BVH:
    """A copy of `bvh` with new channel values for some joints, everything else unchanged.

    local_rotations: joint index -> (F, 3, 3) rotation relative to the parent, written in the
    joint's own channel order (which needs all three rotation channels);
    local_positions: joint index -> (F, 3) translation relative to the parent, written to the
    joint's position channels (axes without a channel must keep the file's value).
    """
    sk, motion = bvh.skeleton, bvh.motion.copy()
    starts = sk.channel_starts()
    for j, rot in (local_rotations or {}).items():
        cols = [starts[j] + k for k, c in enumerate(sk.channels[j]) if c.endswith("rotation")]
        if len(cols) != 3:
            raise ValueError(f"joint {sk.names[j]!r} has {len(cols)} rotation channels; a free rotation needs 3")
        axes = "".join(sk.channels[j][c - starts[j]][0] for c in cols)
        motion[:, cols] = euler_near(np.asarray(rot, dtype=np.float64), axes, motion[:, cols])
    for j, pos in (local_positions or {}).items():
        pos = np.asarray(pos, dtype=np.float64)
        for k, c in enumerate(sk.channels[j]):
            if c.endswith("position"):
                motion[:, starts[j] + k] = pos[:, _AXIS[c[0]]]
    return BVH(sk, motion, bvh.frame_time)


def _fmt(values: Sequence[float]) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def write_bvh(path: str | Path, bvh: BVH) -> None:
    """Write a BVH file atomically; joints are emitted depth first, columns reordered to match."""
    sk = bvh.skeleton
    children: list[list[int]] = [[] for _ in sk.names]
    for j, p in enumerate(sk.parents):
        if p >= 0:
            children[p].append(j)
    lines = ["HIERARCHY"]
    order: list[int] = []

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        if sk.names[j].endswith(f"/{END_SITE}"):
            if children[j] or sk.channels[j]:
                raise ValueError(f"End Site {sk.names[j]!r} cannot have children or channels")
            lines.extend([f"{pad}{END_SITE}", f"{pad}{{", f"{pad}\tOFFSET {_fmt(sk.offsets[j])}", f"{pad}}}"])
            return
        if not sk.names[j] or len(sk.names[j].split()) != 1:
            raise ValueError(f"joint name {sk.names[j]!r} must be one word for BVH")
        order.append(j)
        lines.extend([f"{pad}{'ROOT' if sk.parents[j] < 0 else 'JOINT'} {sk.names[j]}", f"{pad}{{",
                      f"{pad}\tOFFSET {_fmt(sk.offsets[j])}",
                      f"{pad}\tCHANNELS {len(sk.channels[j])} {' '.join(sk.channels[j])}".rstrip()])
        for child in children[j]:
            emit(child, depth + 1)
        lines.append(f"{pad}}}")

    for root in (j for j, p in enumerate(sk.parents) if p < 0):
        emit(root, 0)
    starts = sk.channel_starts()
    cols = [starts[j] + k for j in order for k in range(len(sk.channels[j]))]
    lines += ["MOTION", f"Frames: {bvh.num_frames}", f"Frame Time: {bvh.frame_time:.10g}"]
    buf = io.StringIO()
    np.savetxt(buf, bvh.motion[:, cols], fmt="%.6f")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + buf.getvalue(), encoding="utf-8")


def make_bvh(names: Sequence[str], parents: Sequence[int], offsets: np.ndarray, rotations_local: np.ndarray,
             root_positions: np.ndarray, fps: float, order: str = "ZXY",
             end_site_offsets: dict[str, Sequence[float]] | None = None) -> BVH:
    """Build a BVH from local rotation matrices (F,J,3,3) and root positions (F,3).

    The root gets 6 channels (X/Y/Z position, then rotations in `order`), other joints 3 rotation
    channels; every leaf gets an End Site (zero offset unless given in `end_site_offsets`, keyed
    by the leaf's name). The J input joints keep their indices; End Sites are appended after them.
    `order` is the intrinsic Euler order, e.g. "ZXY" means R = Rz @ Rx @ Ry.
    """
    names, parents = list(names), list(parents)
    offsets = np.asarray(offsets, dtype=np.float64)
    rotations_local = np.asarray(rotations_local, dtype=np.float64)
    root_positions = np.asarray(root_positions, dtype=np.float64)
    n_joints = len(names)
    n_frames = rotations_local.shape[0] if rotations_local.ndim == 4 else -1
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"order must be a permutation of 'XYZ', got {order!r}")
    if (rotations_local.shape != (n_frames, n_joints, 3, 3) or root_positions.shape != (n_frames, 3)
            or offsets.shape != (n_joints, 3) or len(parents) != n_joints):
        raise ValueError(f"rotations_local {rotations_local.shape}, root_positions {root_positions.shape}, "
                         f"offsets {offsets.shape} and {len(parents)} parents do not match {n_joints} joints")
    if parents.count(-1) != 1 or parents[0] != -1:
        raise ValueError("make_bvh needs exactly one root, at index 0")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    end_site_offsets = end_site_offsets or {}
    leaves = [j for j in range(n_joints) if j not in parents]
    unknown = set(end_site_offsets) - {names[j] for j in leaves}
    if unknown:
        raise ValueError(f"end_site_offsets names non-leaf joints: {sorted(unknown)}")
    rot_channels = [f"{axis}rotation" for axis in order]
    skeleton = Skeleton(
        names=names + [f"{names[j]}/{END_SITE}" for j in leaves],
        parents=parents + leaves,
        offsets=np.concatenate([offsets,
                                np.array([end_site_offsets.get(names[j], (0.0, 0.0, 0.0)) for j in leaves],
                                         dtype=np.float64).reshape(-1, 3)]),
        channels=[["Xposition", "Yposition", "Zposition", *rot_channels]]
        + [list(rot_channels) for _ in range(n_joints - 1)] + [[] for _ in leaves],
    )
    euler = Rotation.from_matrix(rotations_local.reshape(-1, 3, 3)).as_euler(order, degrees=True)
    euler = euler.reshape(n_frames, n_joints * 3)
    return BVH(skeleton, np.concatenate([root_positions, euler], axis=1), 1.0 / fps)
