"""Report blocks (heading, paragraph, table, image) and their two renderings, Markdown and HTML.

The report of ``signbench reproduce`` and the results index (:mod:`signbench.review.index`) are lists
of these blocks; :func:`to_markdown` and :func:`to_html` render the same list. Inline text may hold
`code` spans and ``[text](target)`` links, the only inline Markdown the reports use. Tables go through
:func:`signbench.results.markdown_table` in Markdown.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signbench.results import markdown_table

__all__ = ["Heading", "Image", "Paragraph", "Table", "cell", "to_html", "to_markdown"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2
    anchor: str = ""  # an id for the heading in HTML (links to "#anchor"); Markdown renderers make their own


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Image:
    title: str
    path: Path  # relative to the report's folder


def cell(v: Any) -> str:
    """One table cell: '-' for missing, 4 decimals below 10, 1 above, scientific below 1e-3."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.1e}"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def to_markdown(blocks: Sequence[Any], *, base: Path | None = None) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Paragraph):
            out.append(b.text)
        elif isinstance(b, Table):
            out.extend(markdown_table(list(b.headers), b.rows, fmt=cell))
        elif isinstance(b, Image):
            rel = b.path.relative_to(base) if base is not None and b.path.is_absolute() else b.path
            out.append(f"![{b.title}]({rel.as_posix()})")
        else:
            raise TypeError(f"unknown report block {b!r}")
        out.append("")
    return "\n".join(out)


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
code{background:#f5f5f5;padding:0 3px}figure{margin:1em 0}figcaption{color:#555;font-size:90%}"""

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _inline(text: str) -> str:
    """Escape, then render `code` spans and [text](target) links outside them."""
    parts = text.split("`")
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(p)}</code>")
            continue
        pos = 0
        for m in _LINK.finditer(p):
            out.append(html.escape(p[pos:m.start()]))
            out.append(f'<a href="{html.escape(m.group(2))}">{html.escape(m.group(1))}</a>')
            pos = m.end()
        out.append(html.escape(p[pos:]))
    return "".join(out)


def to_html(blocks: Sequence[Any], *, base: Path, title: str = "signbench report", embed: bool = True) -> str:
    """HTML of ``blocks``. ``embed``: every image is read from ``base / path`` and embedded as base64
    (a self-contained file); else the page links to the image files by their relative paths."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">',  # no favicon request
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
            out.append(f"<h{b.level}{anchor}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b.headers))
            out.append("</tr></thead><tbody>")
            for row in b.rows:
                out.append("<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>")
            out.append("</tbody></table>")
        elif isinstance(b, Image):
            if embed:
                src = "data:image/png;base64," + base64.b64encode((base / b.path).read_bytes()).decode("ascii")
            else:
                src = html.escape(b.path.as_posix())
            out.append(
                f'<figure><img alt="{html.escape(b.title)}" src="{src}">'
                f"<figcaption>{html.escape(b.title)}</figcaption></figure>"
            )
        else:
            raise TypeError(f"unknown report block {b!r}")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
