"""Generated sections of a Markdown file, kept between a pair of HTML comment markers."""

from __future__ import annotations


def replace_between(text: str, start: str, end: str, body: str) -> str:
    """``text`` with what lies between the ``start`` and ``end`` markers replaced by ``body``."""
    if start not in text or end not in text:
        raise ValueError(f"no {start} ... {end} markers")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body}{end}{after}"
