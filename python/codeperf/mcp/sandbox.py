"""Confine file access to one root directory.

Every path a client sends is resolved (symlinks followed, `..` collapsed) and
must stay inside the root's own resolved path; anything else is refused. A
symlink inside the root that points outside is refused like a `..` path.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutsideRoot(PermissionError):
    """The path leaves the sandbox root."""


class Sandbox:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"sandbox root {self.root} is not a directory")

    def resolve(self, relative: str) -> Path:
        """The real path of `relative` (a path under the root), or OutsideRoot."""
        if "\x00" in relative:
            raise OutsideRoot("path contains a NUL byte")
        candidate = Path(relative)
        if candidate.is_absolute():
            # An absolute path is accepted only when it already lies inside the root.
            target = candidate.resolve()
        else:
            target = (self.root / candidate).resolve()
        if not self.contains(target):
            raise OutsideRoot(f"{relative!r} is outside the server's root")
        return target

    def contains(self, real_path: Path) -> bool:
        return real_path == self.root or real_path.is_relative_to(self.root)

    def relative(self, real_path: Path) -> str:
        return real_path.relative_to(self.root).as_posix() or "."
