"""The report's HTML pieces: text escaped, `Markup` (a link already made) written as it is, in a cell too."""

from __future__ import annotations

from jobs.report.markup import Markup, escape, figure, table


def test_text_is_escaped_and_markup_kept() -> None:
    assert escape('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    link = Markup('<a href="p.html">e&amp;1</a>')
    assert escape(link) == link
    assert table(["h<"], [[link], ["<b>"]]) == (
        '<table><tr><th>h&lt;</th></tr><tr><td><a href="p.html">e&amp;1</a></td></tr>'
        "<tr><td>&lt;b&gt;</td></tr></table>"
    )
    assert (
        figure("data:x", 'a"', "c&")
        == '<figure><img alt="a&quot;" src="data:x"><figcaption>c&amp;</figcaption></figure>'
    )
