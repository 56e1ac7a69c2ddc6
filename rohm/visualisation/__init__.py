"""Render reconstructed motions to video (H.264 .mp4), frames or still strips for judging them by eye."""

from rohm.visualisation.render import render_frames, render_still, render_video

__all__ = ["render_frames", "render_still", "render_video"]
