"""report.html: report.md rendered with the `markdown` package into one
self-contained file (inline CSS, charts embedded as base64 data URIs), so it can
be mailed or attached as a single artifact."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import markdown

CSS = """
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; }
h1, h2, h3 { border-bottom: 1px solid #d8dee4; padding-bottom: .3em; }
table { border-collapse: collapse; margin: 1em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 90%;
            background: #f6f8fa; border-radius: 4px; }
pre { padding: 1em; overflow-x: auto; }
blockquote { border-left: 4px solid #d4a72c; background: #fff8c5; margin: 1em 0; padding: .5em 1em; }
img { max-width: 100%; border: 1px solid #d0d7de; margin: .5em 0; }
details { margin: 1em 0; }
summary { cursor: pointer; font-weight: 600; }
"""

_IMG_SRC = re.compile(r'(<img\b[^>]*\bsrc=")([^"]+)(")')


def _embed_images(body: str, base_dir: Path) -> str:
    """Replace relative image paths with data URIs; leave anything else untouched."""

    def replace(match: re.Match[str]) -> str:
        src = html.unescape(match.group(2))
        path = (base_dir / src).resolve()
        if "://" in src or src.startswith("data:") or not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"{match.group(1)}data:image/png;base64,{data}{match.group(3)}"

    return _IMG_SRC.sub(replace, body)


_URL_ATTR = re.compile(r'(<(?:a|img)\b[^>]*?\s(?:href|src)=")([^"]*)(")')
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):")


def _safe_url(url: str) -> bool:
    """http(s), in-page anchors and relative paths (our chart files, embedded afterwards)."""
    # Browsers drop tabs, newlines and controls inside a URL: "java&#9;script:" is javascript:.
    match = _SCHEME.match(re.sub(r"[\x00-\x20\x7f]", "", html.unescape(url)))
    return match is None or match.group(1).lower() in ("http", "https")


def _drop_unsafe_links(body: str) -> str:
    """Defence in depth behind fmt.cell's escaping: no javascript:, data: or other scheme
    survives in an href or src, whatever reached the Markdown."""

    def replace(match: re.Match[str]) -> str:
        if _safe_url(match.group(2)):
            return match.group(0)
        return f"{match.group(1)}#refused-link{match.group(3)}"

    return _URL_ATTR.sub(replace, body)


def render(markdown_text: str, base_dir: Path, title: str = "codeperf performance report") -> str:
    body = markdown.markdown(markdown_text,
                             extensions=["tables", "fenced_code", "md_in_html", "sane_lists"],
                             output_format="html")
    body = _drop_unsafe_links(body)  # before embedding: only our own charts become data: URIs
    body = _embed_images(body, Path(base_dir))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
