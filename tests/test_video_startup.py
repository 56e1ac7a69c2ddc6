"""`rohm video` start-up: the weights load in a background thread while the video is decoded and
MediaPipe runs, and nothing before that imports torch."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

import rohm.video.pipeline as pipeline
from rohm.errors import RohmError

REPO = Path(__file__).resolve().parents[1]


def _write_video(path: Path, seconds: float = 1.5, fps: float = 10.0, size: tuple[int, int] = (160, 120)) -> Path:
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, macro_block_size=8, ffmpeg_log_level="error")
    writer.send(None)
    for _ in range(int(round(seconds * fps))):
        writer.send(np.full((size[1], size[0], 3), 100, dtype=np.uint8).tobytes())
    writer.close()
    return path


def test_the_video_command_and_pipeline_import_no_torch() -> None:
    probe = "import sys, rohm.video.command, rohm.video.pipeline; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


def test_the_weights_load_while_detection_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    detecting = threading.Event()
    loaders: list[str] = []

    def load(checkpoint: Path | None) -> None:
        loaders.append(threading.current_thread().name)
        assert detecting.wait(timeout=60)  # loading one after the other would wait here in vain

    def detect(*args: object, **kwargs: object) -> None:
        detecting.set()
        raise RohmError("detection stops here")

    monkeypatch.setattr(pipeline, "_load_reconstructor", load)
    monkeypatch.setattr(pipeline, "detect_video", detect)
    with pytest.raises(RohmError, match="detection stops here"):
        pipeline.run_video(_write_video(tmp_path / "clip.mp4"), tmp_path / "out", progress=False)
    assert len(loaders) == 1 and loaders[0] != threading.main_thread().name
    assert not any(p.name.startswith((".out", "out")) for p in tmp_path.iterdir())
