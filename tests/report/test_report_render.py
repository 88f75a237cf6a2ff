"""Markdown/HTML rendering of the report's blocks: escaping and row styling."""

from __future__ import annotations

import pytest

from avsal.report.render import Bullets, Heading, Image, Para, Table, to_html, to_markdown


def test_markdown_and_html_say_the_same_and_escape() -> None:
    t = Table(("Method", "CC"))
    t.add("a|b <script>", "0.500", kind="ours")
    blocks = [
        Heading("Title", 1),
        Para("**bold** and `code`", "note"),
        Bullets(("x",)),
        t,
        Image("figures/a.png", "alt", "cap"),
    ]
    md = to_markdown(blocks)
    assert "# Title" in md and "> **bold** and `code`" in md and "- x" in md
    assert "| a\\|b <script> | 0.500 |" in md and "![alt](figures/a.png)" in md
    html = to_html(blocks, "T")
    assert "<script>" not in html and "a|b &lt;script&gt;" in html
    assert '<p class="note"><b>bold</b> and <code>code</code></p>' in html
    assert '<tr class="ours"><td>a|b &lt;script&gt;</td><td class="num">0.500</td></tr>' in html
    assert '<img src="figures/a.png" alt="alt">' in html
    with pytest.raises(ValueError):
        t.add("only one cell")
