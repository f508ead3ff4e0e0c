"""Text for people: aligned tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain aligned text table (the last column is not padded)."""
    rows = [list(r) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)] if rows else []
    if not rows:
        widths = [len(h) for h in headers]
    lines = []
    for row in [list(headers), *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=False)] + [str(row[-1])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
