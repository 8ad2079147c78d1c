"""Markdown structure the engine reads (docs/algorithms.md, "Document"): prose
lines, fenced code blocks and list items. Twin of crates/codeperf-core/src/document.rs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeperf.engine.text import ASCII_WS, lower

_LIST_ITEM = re.compile(r"(?:[-*+]|[0-9]{1,9}[.)])[ \t]+(.*)\Z", re.S)


@dataclass(frozen=True, slots=True)
class Document:
    prose_lines: list[str]
    code_blocks: list[dict]


def _fence_indent_ok(line: str) -> tuple[bool, str]:
    stripped = line.lstrip(" ")
    return len(line) - len(stripped) <= 3 and stripped.startswith("```"), stripped


def _is_closing_fence(line: str) -> bool:
    body = line.strip(ASCII_WS)
    return len(body) >= 3 and body.strip("`") == ""


def _language(info: str) -> str:
    info = info.strip(ASCII_WS)
    for i, ch in enumerate(info):
        if ch in ASCII_WS:
            info = info[:i]
            break
    return lower(info)


def parse(content: str) -> Document:
    prose: list[str] = []
    blocks: list[dict] = []
    in_block = False
    language = ""
    body_lines = 0
    for raw in content.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if in_block:
            if _is_closing_fence(line):
                blocks.append({"language": language, "lines": body_lines, "closed": True})
                in_block = False
            else:
                body_lines += 1
            continue
        is_fence, stripped = _fence_indent_ok(line)
        if is_fence:
            in_block = True
            language = _language(stripped.lstrip("`"))
            body_lines = 0
        else:
            prose.append(line)
    if in_block:
        blocks.append({"language": language, "lines": body_lines, "closed": False})
    return Document(prose, blocks)


def list_item(line: str) -> str | None:
    """The text of a Markdown list item line ('- x', '* x', '+ x', '1. x', '1) x'), else None."""
    match = _LIST_ITEM.match(line.strip(ASCII_WS))
    return match.group(1) if match else None
