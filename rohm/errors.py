"""User-facing errors: one line that names the file and the problem; the CLI exits 2."""

from __future__ import annotations

from pathlib import Path


class RohmError(Exception):
    """A problem with the user's input, reported as one line (exit code 2)."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.message, self.path = message, None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
