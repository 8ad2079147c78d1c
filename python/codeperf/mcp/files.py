"""The desktop/files MCP server: read, list and glob, confined to one root directory.

Paths are relative to `--root`; a path that leaves it (`..`, an absolute path
elsewhere, a symlink pointing out) is refused with a JSON-RPC error
(INVALID_PARAMS), never read. A path check cannot see where a hard link's other
names are, so a file with more than one link is refused too. Glob matches that
resolve outside the root are left out of the results; the glob walks lazily,
does not enter symlinked directories, and is bounded in depth and time
(codeperf.mcp.globwalk).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from codeperf.mcp import serve
from codeperf.mcp.globwalk import GlobTooCostly, iter_matches
from codeperf.mcp.sandbox import OutsideRoot, Sandbox

MAX_READ_BYTES = 8 * 1024 * 1024
MAX_LIST_ENTRIES = 10_000


def _inside(sandbox: Sandbox, path: str) -> Path:
    try:
        return sandbox.resolve(path)
    except OutsideRoot as exc:
        raise MCPError(INVALID_PARAMS, f"refused: {exc}") from None


def build(root: str | os.PathLike[str]) -> serve.MCPServer:
    sandbox = Sandbox(root)
    server = serve.new_server("codeperf-files",
                              f"Read-only file tools confined to {sandbox.root}. Paths are relative to it.")

    @server.tool(structured_output=False)
    def read_file(path: str, max_bytes: int = 1024 * 1024) -> str:
        """Text of the file at `path` (relative to the root), at most `max_bytes` bytes."""
        target = _inside(sandbox, path)
        if not 1 <= max_bytes <= MAX_READ_BYTES:
            raise ToolError(f"max_bytes must be within 1..{MAX_READ_BYTES}")
        if not target.is_file():
            raise ToolError(f"{path!r} is not a file")
        # O_NOFOLLOW: the resolved path has no links left, so one appearing now is a swap.
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            links = os.fstat(handle.fileno()).st_nlink
            if links > 1:  # its other name may be outside the root: no path check can tell
                raise MCPError(INVALID_PARAMS, f"refused: {path!r} has {links} hard links; "
                                               f"only single-link files are served")
            return handle.read(max_bytes).decode("utf-8", errors="replace")

    @server.tool()
    def list_directory(path: str = ".") -> list[dict[str, Any]]:
        """Entries of the directory at `path`: name, type (file, dir, link, other), size in bytes."""
        target = _inside(sandbox, path)
        if not target.is_dir():
            raise ToolError(f"{path!r} is not a directory")
        entries = []
        with os.scandir(target) as it:
            for entry in sorted(it, key=lambda e: e.name)[:MAX_LIST_ENTRIES]:
                kind = ("link" if entry.is_symlink() else "dir" if entry.is_dir()
                        else "file" if entry.is_file() else "other")
                size = entry.stat(follow_symlinks=False).st_size
                entries.append({"name": entry.name, "type": kind, "size_bytes": size})
        return entries

    @server.tool()
    def search_glob(pattern: str, path: str = ".", limit: int = 100) -> list[str]:
        """Paths under `path` matching the glob `pattern` (e.g. `**/*.txt`), sorted, at most `limit`.

        Symlinked directories are not entered; the search stops at 32 levels and
        fails after 2 s (narrow the pattern or the path)."""
        base = _inside(sandbox, path)
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise MCPError(INVALID_PARAMS, f"refused: pattern {pattern!r} must stay under the root")
        if not 1 <= limit <= MAX_LIST_ENTRIES:
            raise ToolError(f"limit must be within 1..{MAX_LIST_ENTRIES}")
        matches = []
        try:
            for match in iter_matches(base, pattern):
                if sandbox.contains(match.resolve()):  # a symlink out of the root is not a match
                    matches.append(sandbox.relative(match.absolute()))
                if len(matches) >= limit:
                    break
        except GlobTooCostly as exc:
            raise ToolError(str(exc)) from None
        except ValueError as exc:
            raise ToolError(f"pattern {pattern!r}: {exc}") from None
        return sorted(matches)

    return server


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(exists=True, file_okay=False), default=".",
              show_default=True, help="The directory the tools may read; nothing outside it.")
@serve.transport_options
def main(root: str, transport: str, host: str, port: int,
         stdio_transport: str) -> None:
    """Run the codeperf files MCP server (read-only, confined to --root)."""
    serve.run(build(root), transport, host, port, stdio_transport)


if __name__ == "__main__":
    main()
