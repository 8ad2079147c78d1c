"""Text primitives of the engine (docs/algorithms.md, "Text"): the exact twin of
crates/codeperf-core/src/text.rs.

Python's and Rust's Unicode tables differ by version and by definition (what
`str.isalnum` and `char::is_alphanumeric` accept, what `lower()` maps), so the
engine defines its own: a fixed table of word characters and a fixed case
mapping, both written out below and in the spec.
"""

from __future__ import annotations

import re

# ASCII white space as the engine strips it: note \x0b, which Rust's
# `is_ascii_whitespace` leaves out, so both sides spell the set out.
ASCII_WS = " \t\n\r\x0b\x0c"

# Non-ASCII code points that are NOT word characters (inclusive ranges). Every
# other code point >= U+0080 is a word character; in ASCII only [0-9A-Za-z] are.
NON_WORD_RANGES: tuple[tuple[int, int], ...] = (
    (0x0080, 0x00BF),  # C1 controls, Latin-1 punctuation and symbols, NBSP
    (0x00D7, 0x00D7),  # multiplication sign
    (0x00F7, 0x00F7),  # division sign
    (0x1680, 0x1680),  # Ogham space mark
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x2000, 0x2BFF),  # general punctuation .. miscellaneous symbols and arrows
    (0x2E00, 0x2E7F),  # supplemental punctuation
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xD800, 0xDFFF),  # surrogates (rejected by validation before this point)
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE6F),  # CJK compatibility forms, small form variants
    (0xFEFF, 0xFEFF),  # zero width no-break space (BOM)
    (0xFF00, 0xFF0F),  # fullwidth ASCII punctuation ...
    (0xFF1A, 0xFF20),
    (0xFF3B, 0xFF40),
    (0xFF5B, 0xFF65),  # ... and halfwidth CJK punctuation
    (0xFFF0, 0xFFFF),  # specials
    (0x1F000, 0x1FAFF),  # mahjong, cards, enclosed alphanumerics, emoji, symbols
)


def _word_class() -> str:
    parts = ["0-9A-Za-z"]
    start = 0x80
    for lo, hi in NON_WORD_RANGES:
        if start < lo:
            parts.append(f"\\U{start:08x}-\\U{lo - 1:08x}")
        start = hi + 1
    parts.append(f"\\U{start:08x}-\\U0010ffff")
    return "[" + "".join(parts) + "]+"


WORD_RE = re.compile(_word_class())

# The case mapping: ASCII A-Z and Latin-1 U+00C0..U+00DE (but U+00D7) map to +0x20.
_LOWER_TABLE = {c: c + 0x20 for c in range(0x41, 0x5B)}
_LOWER_TABLE.update({c: c + 0x20 for c in range(0xC0, 0xDF) if c != 0xD7})


def is_word_char(ch: str) -> bool:
    return WORD_RE.fullmatch(ch) is not None


def lower(text: str) -> str:
    # For pure-ASCII text str.lower() is exactly the ASCII mapping and much faster.
    return text.lower() if text.isascii() else text.translate(_LOWER_TABLE)


def tokens(text: str) -> list[str]:
    """Maximal runs of word characters, lower-cased."""
    return WORD_RE.findall(lower(text))


def strip_ws(text: str) -> str:
    return text.strip(ASCII_WS)


STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me
more most my myself no nor not now of off on once only or other our ours ourselves out over own
same she so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves
""".split())

HEDGING_MARKERS = frozenset("""
might may could possibly perhaps probably maybe likely unlikely unclear uncertain seems seem
appears arguably generally typically often somewhat
""".split())

CERTAINTY_MARKERS = frozenset("""
definitely certainly clearly always never must guaranteed undoubtedly obviously absolutely proven
exactly sure
""".split())

RECOMMEND_MARKERS = frozenset("""
should recommend recommended recommends suggest suggests must consider prefer avoid ensure
""".split())


def content_tokens(toks: list[str]) -> list[str]:
    """Tokens that carry meaning: at least two code points and not a stopword."""
    return [t for t in toks if len(t) >= 2 and t not in STOPWORDS]


def split_sentences(line: str) -> list[str]:
    """Split one line after '.', '!' or '?' followed by ASCII white space or the line's end."""
    return _SENTENCE_END.split(line)


_SENTENCE_END = re.compile(r"(?<=[.!?])(?=[ \t\n\r\x0b\x0c]|\Z)")
