"""The video front end: an RGB (or RGB-D) video in, clean world-space motion out."""
