"""Where a run's files go: `reports/<run-id>/`, with `reports/latest` a link to the newest.

`make perf` and every suite script share these rules, so `reports/latest` is
always a symbolic link, moved atomically (a new link renamed over the old one),
and never turned into a plain directory by a suite writing "into" it:

- no `--out`: a new run directory `reports/<run-id>`, and `latest` points at it;
- `--out reports/latest` (any path whose name is `latest`): the run it points
  at, so a suite can be re-run into the newest `make perf` run and re-aggregated;
  when there is no such link yet, as with no `--out`;
- any other `--out DIR`: DIR itself, links untouched.

A `latest` that is a real directory (left by an older codeperf) or a link that
cannot be replaced is a LatestLinkError saying why and what to do, never a
silent write somewhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

from codeperf.harness.envelope import new_run_id

REPORTS_DIR = Path("reports")
LATEST = "latest"
OUT_DEFAULT_NOTE = ("[default: a new run directory reports/<run-id>, linked from "
                    "reports/latest; --out reports/latest adds to the run it points at]")
DEFAULT_OUT_HELP = "output directory " + OUT_DEFAULT_NOTE


class LatestLinkError(OSError):
    """`latest` cannot be made to point at the run; the message says why."""


def _refuse_plain_directory(link: Path) -> None:
    if link.is_dir() and not link.is_symlink():
        raise LatestLinkError(
            f"{link} is a directory, not a link to a run (an older codeperf wrote into it), "
            f"so it cannot be moved to a new run; move it away (e.g. mv {link} "
            f"{link.parent / 'latest-old'}) and run again")


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    """reports/latest -> <run id>, replaced atomically (relative, so the tree can move)."""
    link = Path(reports_dir) / LATEST
    _refuse_plain_directory(link)
    tmp = link.with_name(f".{LATEST}.{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(Path(run_dir).name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError as exc:
        raise LatestLinkError(f"cannot point {link} at {run_dir.name}: "
                              f"{exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)  # only left when the rename did not happen


def new_run(reports_dir: Path = REPORTS_DIR) -> Path:
    """A fresh `reports/<run-id>` (CODEPERF_RUN_ID when set), with `latest` pointing at it.

    Sets CODEPERF_RUN_ID so the envelope written into it carries the same id."""
    run_id = os.environ.get("CODEPERF_RUN_ID") or new_run_id()
    run_dir = Path(reports_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    point_latest(reports_dir, run_dir)
    os.environ["CODEPERF_RUN_ID"] = run_id
    return run_dir


def resolve_out(out: Path | str | None) -> Path:
    """The directory a suite script writes to for its `--out` value (see the module doc)."""
    if out is None:
        return new_run()
    out = Path(out)
    if out.name != LATEST:
        return out
    if out.is_symlink():
        if not out.is_dir():
            raise LatestLinkError(f"{out} points at {os.readlink(out)}, which is not a run "
                                  f"directory; remove the link and run again")
        return out.resolve()
    _refuse_plain_directory(out)
    return new_run(out.parent)


def script_out_dir(out: Path | str | None, script: str) -> Path:
    """resolve_out for a suite script: a LatestLinkError is a set-up error (exit 2)."""
    import sys

    from codeperf.harness import exitcodes

    try:
        return resolve_out(out)
    except LatestLinkError as exc:
        print(f"{script}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(exitcodes.USAGE) from None
