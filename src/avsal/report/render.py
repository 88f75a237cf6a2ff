"""A tiny document model rendered to both Markdown and self-contained HTML.

Why: the report must say the same thing in ``report.md`` (diffable, read on GitHub / in a
terminal) and ``report.html`` (read in a browser); building one list of blocks and rendering it
twice keeps the two from drifting apart.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

__all__ = ["Heading", "Para", "Bullets", "Image", "Table", "Row", "Block", "to_markdown", "to_html"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    """A paragraph; ``**bold**`` and ``code`` spans are understood by both renderers."""

    text: str
    kind: str = "text"  # text | note (a warning box in HTML, a quote in Markdown)


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Image:
    src: str  # relative to the report's folder
    alt: str
    caption: str = ""


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    kind: str = ""  # ours | paper | note | mean: styling only (the text says it too)


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    caption: str = ""

    def add(self, *cells: str, kind: str = "") -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells, table has {len(self.columns)} columns")
        self.rows.append(Row(tuple(cells), kind))


Block = Heading | Para | Bullets | Image | Table


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(f"> {b.text}" if b.kind == "note" else b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Image):
            img = f"![{b.alt}]({b.src})"
            out.append(f"{img}\n\n*{b.caption}*" if b.caption else img)
        elif isinstance(b, Table):
            lines = []
            if b.caption:
                lines.append(f"*{b.caption}*\n")
            lines.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
            lines.append("|" + "|".join("---" for _ in b.columns) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in r.cells) + " |" for r in b.rows]
            out.append("\n".join(lines))
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown block {b!r}")
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Escape, then turn ``**x**`` into <b> and backticks into <code>."""
    s = html.escape(text, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", s)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;
max-width:1150px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#eee}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.ours{background:#e6f2ff;font-weight:600}tr.mean{background:#d3e8ff;font-weight:600}tr.paper{background:#fff}
tr.note td{color:#a33;font-style:italic}caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:4px}
.note{background:#fff4e0;border-left:4px solid #e69500;padding:0.6em 1em}
img{max-width:100%;border:1px solid #ddd}figcaption{font-style:italic;font-size:0.9em}
code{background:#f3f3f3;padding:0 3px}
"""

_NUM = re.compile(r"^[-+]?\d+(\.\d+)?$")


def to_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = ' class="note"' if b.kind == "note" else ""
            body.append(f"<p{cls}>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Image):
            cap = f"<figcaption>{_inline(b.caption)}</figcaption>" if b.caption else ""
            body.append(
                f'<figure><img src="{html.escape(b.src)}" alt="{html.escape(b.alt)}">{cap}</figure>'
            )
        elif isinstance(b, Table):
            parts = ["<table>"]
            if b.caption:
                parts.append(f"<caption>{_inline(b.caption)}</caption>")
            parts.append("<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in b.columns) + "</tr>")
            for r in b.rows:
                cls = f' class="{r.kind}"' if r.kind else ""
                tds = "".join(
                    f'<td class="num">{html.escape(c)}</td>'
                    if _NUM.match(c)
                    else f"<td>{_inline(c)}</td>"
                    for c in r.cells
                )
                parts.append(f"<tr{cls}>{tds}</tr>")
            parts.append("</table>")
            body.append("\n".join(parts))
        else:  # pragma: no cover
            raise TypeError(f"unknown block {b!r}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
