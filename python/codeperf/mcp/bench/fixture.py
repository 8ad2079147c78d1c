"""The directory the bundled files server reads during a benchmark, and the bundled argument sets."""

from __future__ import annotations

from pathlib import Path

# Files of the sizes a desktop server typically serves, plus a tree for glob.
FILE_SIZES = {"small.txt": 1024, "medium.txt": 64 * 1024, "large.txt": 1024 * 1024}
TREE_DIRS = 10
TREE_FILES_PER_DIR = 20

BUNDLED_SCENARIOS_PATH = Path(__file__).with_name("bundled_scenarios.toml")


def make_files_root(root: Path) -> Path:
    """Fill `root` deterministically (idempotent); returns it."""
    root.mkdir(parents=True, exist_ok=True)
    line = "the quick brown fox jumps over the lazy dog 0123456789\n"
    for name, size in FILE_SIZES.items():
        path = root / name
        if not path.exists() or path.stat().st_size != size:
            path.write_text((line * (size // len(line) + 1))[:size], encoding="utf-8")
    for d in range(TREE_DIRS):
        folder = root / "tree" / f"dir{d:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(TREE_FILES_PER_DIR):
            suffix = ".txt" if f % 2 == 0 else ".md"
            path = folder / f"note{f:02d}{suffix}"
            if not path.exists():
                path.write_text(f"note {d}/{f}\n", encoding="utf-8")
    return root
