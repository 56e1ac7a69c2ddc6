"""The occlusion patterns of the paper's synthetic inputs, by name, importable without torch.

"none"; "lower": the lower body hidden in every frame (Occ-L); "frames-10": the whole body hidden
over one contiguous 10% of the frames (Occ-10%). `rohm.corruption` makes the masks; the command
line lists the names.
"""

from __future__ import annotations

OCCLUSIONS: tuple[str, ...] = ("none", "lower", "frames-10")
