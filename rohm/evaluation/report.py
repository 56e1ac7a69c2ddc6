"""Benchmark reports: a Markdown file laid out like the paper's Tab. 1, and PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rohm.io.atomic import atomic_path, write_text_atomic  # noqa: E402

COLUMNS = (("gmpjpe.vis", "GMPJPE vis", 1), ("gmpjpe.occ", "GMPJPE occ", 1), ("gmpjpe.all", "GMPJPE all", 1),
           ("mpjpe.all", "MPJPE all", 1), ("accel", "Accel", 2), ("contact", "Cont", 3), ("skating", "Skat", 3),
           ("float", "Float", 1), ("dist", "Dist", 1), ("seconds_per_144_frames", "s/144 f", 3))
LOWER_IS_BETTER = {"contact": False}

NOTE = """How these numbers were made: every clip of the split is corrupted once per protocol with seed
(base seed + clip index) and the same input goes to every method. Occ-L hides the lower body in
every frame, Occ-10% the whole body over one run of 10% of the frames, after the paper's k noise
(k degrees on joint rotations, k cm on the translation, through forward kinematics). Cam is a
virtual monocular camera (2D keypoints with 2 px noise, 3D with depth errors along the camera ray,
a sliding foreground occluder; see rohm/virtual_camera.py). Metrics are frame-weighted means over
clips (GMPJPE/MPJPE/Float/Dist in mm, Accel in m/s^2, Contact an accuracy). Skating is the share
of the ground truth's planted foot-joint frames (still, within 5 cm of that joint's lowest height in
the clip) in which the method's foot moves faster than 7.5 cm/s horizontally (speed over 1/6 s);
Float how far above the ground truth such a planted foot is held; Dist how far feet sink below the
lowest height the ground truth gives them (rohm/evaluation/metrics.py);
vis/occ split the joints the input had/lacked. s/144 f is wall time per 144 frames on the machine
below, with the worker count shown. Best per column in bold. Methods: rohm is the default
`Settings()` (K = 2, DDIM 10/20 steps, guidance, drift correction and joint anchoring with gap
weights, foot locking); rohm-paper is Algorithm 1 as the paper writes it (`Settings.paper()`:
iterations conditioned on the previous estimates, DDPM 100/1000 steps, unbounded guidance on the last
100 steps, 144-frame windows, no post-processing); the paper-* rows ablate the paper's mechanisms under
the paper's conditioning with fast DDIM sampling (`Settings.paper_fast()`); the rohm-no-* rows each
turn one part of rohm's default off; mdm++ shares rohm's windows and post-processing
(drift correction, anchoring, foot locking) without guidance. The paper's Tab. 1 is on AMASS with
SMPL-X; these are on Bandai Namco mocap with the default body: compare trends, not numbers."""


def _fmt(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_markdown(report: dict[str, Any], path: str | Path) -> None:
    """results.md: one table per protocol, methods as rows."""
    lines = ["# rohm benchmark", "", f"Split `{report['split']}` ({report['clips_in_split']} clips), "
             f"command `{report['command']}`.", "", f"Machine: {report['machine']}", "", NOTE, ""]
    for protocol, methods in report["results"].items():
        if not methods:
            continue
        lines += [f"## {report['protocols'][protocol]} (`{protocol}`)", "",
                  "| method | clips | frames | " + " | ".join(c[1] for c in COLUMNS) + " |",
                  "|---|---|---|" + "---|" * len(COLUMNS)]
        best = {}
        for key, _, _ in COLUMNS[:-1]:
            vals = [m[key] for m in methods.values() if m.get(key) is not None]
            if vals:
                best[key] = max(vals) if not LOWER_IS_BETTER.get(key, True) else min(vals)
        for name, m in methods.items():
            cells = []
            for key, _, digits in COLUMNS:
                text = _fmt(m.get(key), digits)
                cells.append(f"**{text}**" if key in best and m.get(key) == best[key] and name != "input" else text)
            partial = "" if m.get("complete", True) else " (partial)"
            lines.append(f"| {name}{partial} | {m['clips']} | {m['frames']} | " + " | ".join(cells) + " |")
        lines.append("")
    write_text_atomic(path, "\n".join(lines))


def write_plots(report: dict[str, Any], folder: str | Path) -> list[Path]:
    """noise_sweep.png (GMPJPE-occ and Skating vs k under Occ-L) and occl_k3.png (bars)."""
    folder = Path(folder)
    results = report["results"]
    written = []
    sweep = sorted((int(p.split("-k")[1]), p) for p in results if p.startswith("occl-k") and results[p])
    if len(sweep) >= 2:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        methods = list(dict.fromkeys(m for _, p in sweep for m in results[p]))
        for name in methods:
            ks = [k for k, p in sweep if name in results[p]]
            if len(ks) < 2:
                continue
            for ax, key in zip(axes, ("gmpjpe.occ", "skating")):
                ax.plot(ks, [results[f"occl-k{k}"][name][key] for k in ks], marker="o", label=name)
        axes[0].set(xlabel="noise level k", ylabel="GMPJPE on occluded joints (mm)", title="Occ-L: accuracy vs noise")
        axes[1].set(xlabel="noise level k", ylabel="foot skating ratio", title="Occ-L: skating vs noise")
        for ax in axes:
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        written.append(_save(fig, folder / "noise_sweep.png"))
    main = results.get("occl-k3", {})
    if main:
        names = list(main)
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 2), 4))
        x = range(len(names))
        for offset, key, label in ((-0.2, "gmpjpe.vis", "visible joints"), (0.2, "gmpjpe.occ", "occluded joints")):
            ax.bar([i + offset for i in x], [main[n].get(key) or 0 for n in names], width=0.4, label=label)
        most = max(main[n]["clips"] for n in names)
        ax.set_xticks(list(x), [n if main[n]["clips"] == most else f"{n} ({main[n]['clips']} clips)" for n in names],
                      rotation=30, ha="right")
        ax.set(ylabel="GMPJPE (mm)", title="Occ-L, k=3: global joint error per method")
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        written.append(_save(fig, folder / "occl_k3.png"))
    return written


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path
