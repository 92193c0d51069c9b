"""The page kit: escaping by type, tables, badges, the self-contained page skeleton."""

from __future__ import annotations

import re
from pathlib import Path

from elsercheck.pagekit import (
    STYLE,
    Html,
    cards,
    code,
    esc,
    fmt,
    key_value_table,
    link,
    page,
    span,
    table,
    verdict,
    write,
)

EVIL = "<script>alert('x')</script> & \"q\""
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"


def test_esc_escapes_text_once_and_passes_markup() -> None:
    assert esc(EVIL) == ESCAPED
    assert isinstance(esc(EVIL), Html)
    assert esc(esc(EVIL)) == ESCAPED  # escaped markup is not escaped twice
    assert esc(Html("<b>x</b>")) == "<b>x</b>"
    assert esc(5) == "5" and esc(None) == "None"


def test_fmt_numbers_and_text() -> None:
    assert fmt(None) == "–" and fmt(True) == "yes" and fmt(False) == "no"
    assert fmt(1234567) == "1,234,567" and fmt(1234.5678, 2, " ms") == "1,234.57 ms"
    assert fmt("<b>", unit=" %") == "&lt;b&gt; %"


def test_table_escapes_text_cells_and_keeps_markup_cells() -> None:
    html = table(["a<b", "c"], [[EVIL, code("x<y")], [3, Html("<i>ok</i>")]], "compare")
    assert html.startswith("<table class='compare'><thead><tr><th>a&lt;b</th><th>c</th></tr>")
    assert "<script>" not in html and f"<td>{ESCAPED}</td>" in html
    assert "<td><code>x&lt;y</code></td>" in html and "<td><i>ok</i></td>" in html
    assert re.findall(r"<tr>", html) == ["<tr>"] * 3 and html.count("<td>") == 4
    assert html.endswith("</tbody></table>")
    assert table(["h"], []).startswith("<table><thead>")  # no class attribute when none given


def test_key_value_table_escapes_labels_and_text_values() -> None:
    html = key_value_table([("k<", EVIL), ("run", code("r1"))])
    assert "<tr><th>k&lt;</th>" in html and f"<td>{ESCAPED}</td>" in html
    assert "<td><code>r1</code></td>" in html and "class='meta'" in html


def test_inline_helpers_escape_attributes_and_text() -> None:
    assert link("a'b.html?x=1&y=2", "<go>") == (
        "<a href='a&#x27;b.html?x=1&amp;y=2'>&lt;go&gt;</a>"
    )
    assert span("failed", "<x>") == "<span class='failed'>&lt;x&gt;</span>"


def test_badges() -> None:
    banner = verdict("bad", "Not <ok>", Html(" (exit code 1)"))
    assert banner == (
        "<div class='verdict bad'><strong class='bad'>Not &lt;ok&gt;</strong> (exit code 1)</div>"
    )
    badges = cards([("p99 <ms>", fmt(12.345, 1, " ms")), ("runs", EVIL)])
    assert badges.count("class='card'") == 2
    assert "<b>12.3 ms</b><span>p99 &lt;ms&gt;</span>" in badges and ESCAPED in badges


def test_page_is_self_contained_and_escapes_the_title(tmp_path: Path) -> None:
    html = page(EVIL, "<h1>H</h1>", "<p>M</p>", nav=link("#s", "S"), footer="F")
    assert html.startswith("<!doctype html><html lang='en'><head><meta charset='utf-8'>")
    assert f"<title>{ESCAPED}</title><style>{STYLE}</style>" in html
    assert "<header><h1>H</h1></header><nav><div><a href='#s'>S</a></div></nav>" in html
    assert html.endswith("<main><p>M</p><footer>F</footer></main></body></html>\n")
    assert "<script" not in html and "<link" not in html and "http" not in html
    assert "<nav>" not in page("t", "h", "m") and "<footer>" not in page("t", "h", "m")
    path = write(tmp_path / "p.html", html)
    assert path.read_text(encoding="utf-8") == html


def test_style_has_a_class_for_every_outcome_the_reports_show() -> None:
    for css in ("ok", "bad", "pass", "fail", "passed", "failed", "error", "skipped", "xfailed",
                "regression", "improvement", "muted"):  # fmt: skip
        assert re.search(rf"\.{css}[,{{]", STYLE), css
