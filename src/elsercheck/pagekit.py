"""The small page kit of elsercheck's HTML reports (gate, selftest, load report and index).

One house style (:data:`STYLE`), one page skeleton (:func:`page`: title, header, optional
navigation, main, footer), summary badges (:func:`verdict`, :func:`cards`) and tables
(:func:`table`). Pages are self-contained: inline CSS, no script, no remote resource.

Escaping is by type: text is escaped when it is inserted, :class:`Html` (markup built by
these helpers or by :func:`esc`) is inserted as is. So a writer escapes each run-file value
once, where it builds the cell, and a forgotten ``esc`` shows ``&lt;`` instead of running.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class Html(str):
    """Markup that is safe to insert as is (already escaped, or built from escaped parts)."""

    __slots__ = ()


def esc(value: Any) -> Html:
    """Text (or anything, as text) safe inside HTML content and quoted attributes."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def fmt(value: Any, digits: int = 1, unit: str = "") -> Html:
    """A number for a table cell: ``–`` for none, thousands separators, fixed decimals."""
    if value is None:
        return Html("–")
    if isinstance(value, bool):
        return Html("yes" if value else "no")
    if isinstance(value, int):
        return esc(f"{value:,}{unit}")
    if isinstance(value, float):
        return esc(f"{value:,.{digits}f}{unit}")
    return esc(f"{value}{unit}")


def span(css: str, text: Any) -> Html:
    """``text`` in a ``<span>`` of class ``css`` (e.g. ``ok``, ``bad``, ``muted``, an outcome)."""
    return Html(f"<span class='{esc(css)}'>{esc(text)}</span>")


def code(text: Any) -> Html:
    return Html(f"<code>{esc(text)}</code>")


def link(href: str, text: Any) -> Html:
    return Html(f"<a href='{esc(href)}'>{esc(text)}</a>")


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]], css: str = "") -> Html:
    """A table with a header row; every cell is escaped unless it is :class:`Html`."""
    head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    classes = f" class='{esc(css)}'" if css else ""
    return Html(f"<table{classes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def key_value_table(rows: Iterable[Sequence[Any]]) -> Html:
    """A two-column table of (label, value) rows: labels escaped, values escaped unless
    :class:`Html`."""
    body = "".join(f"<tr><th>{esc(key)}</th><td>{esc(value)}</td></tr>" for key, value in rows)
    return Html(f"<table class='meta'><tbody>{body}</tbody></table>")


def verdict(css: str, title: Any, detail: Any = "") -> Html:
    """The coloured banner under a page's title (``css``: ``ok``, ``bad`` or ``regression``);
    ``detail`` (escaped unless :class:`Html`) follows the bold ``title``."""
    return Html(f"<div class='verdict {css}'><strong class='{css}'>{esc(title)}</strong>"
                f"{esc(detail)}</div>")  # fmt: skip


def cards(items: Iterable[tuple[Any, Any]]) -> Html:
    """Summary badges: a big value (escaped unless :class:`Html`) over a small label each."""
    return Html("<div class='cards'>" + "".join(
        f"<div class='card'><b>{esc(value)}</b><span>{esc(label)}</span></div>"
        for label, value in items
    ) + "</div>")  # fmt: skip


def page(title: str, header: str, main: str, nav: str = "", footer: str = "") -> str:
    """A whole self-contained page; ``header``, ``nav``, ``main`` and ``footer`` are markup."""
    return "".join([
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<header>{header}</header>",
        f"<nav><div>{nav}</div></nav>" if nav else "",
        f"<main>{main}",
        f"<footer>{footer}</footer>" if footer else "",
        "</main></body></html>\n",
    ])  # fmt: skip


def write(path: Path, text: str) -> Path:
    """Write a page (UTF-8) to ``path``; returns ``path``."""
    path.write_text(text, encoding="utf-8")
    return path


# Outcome classes: gate outcomes (passed, failed, error, skipped, xfailed), expectation
# statuses (pass, fail, skipped), load verdicts (ok, failed, regression), comparisons.
STYLE = """
:root{--ok:#0a7d32;--bad:#b3261e;--warn:#8a6d00;--muted:#6e6e73;--line:#e3e3e6;--bg:#f5f5f7}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f}
header,main,nav>div{max-width:1100px;margin:0 auto;padding:0 1.5rem}
header{padding-top:1.2rem}h1{font-size:1.45rem;margin:.2rem 0}h2{font-size:1.15rem;
margin-top:2rem;padding-top:.6rem;border-top:1px solid var(--line)}h3{font-size:1rem}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:.4rem 0;
z-index:1}nav a{margin-right:.9rem;color:#0b57d0;text-decoration:none;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem;
margin:1rem 0}.card{background:var(--bg);border-radius:8px;padding:.6rem .8rem}
.card b{display:block;font-size:1.25rem}.card span{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;margin:.6rem 0}td,th{border-bottom:1px solid
var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}thead th{background:var(--bg)}
table.meta th{width:12rem;background:none;color:var(--muted);font-weight:normal}
table.compare td:nth-child(n+2){text-align:right;white-space:nowrap}
figure{margin:.8rem 0}svg.chart{width:100%;height:auto;max-width:1000px}
.ok,.pass,.passed,.improvement{color:var(--ok)}
.bad,.fail,.failed,.error,.regression{color:var(--bad);font-weight:600}
.skipped,.xfailed{color:var(--warn)}.muted{color:var(--muted)}code{font-size:12.5px}
pre{background:var(--bg);padding:.5rem;overflow-x:auto;white-space:pre-wrap;font-size:12px;
margin:.3rem 0}details{margin:.2rem 0}
.verdict{padding:.6rem .9rem;border-radius:8px;margin:.8rem 0}.verdict.ok{background:#e7f5ec}
.verdict.bad,.verdict.regression{background:#fbeaea}
footer{color:var(--muted);font-size:12px;margin:2rem 0}
"""
