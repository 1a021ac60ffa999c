"""The report's HTML pieces: text escaped, `Markup` (a link already made) written as it is, in a cell too."""

from __future__ import annotations

from jobs.report.markup import MAX_ROWS, Markup, capped, escape, figure, table, table_or


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


def test_a_per_dataset_table_past_its_cap_shows_the_first_rows_and_names_the_rest() -> None:
    # issue 99: a corpus of 30,000 datasets listed every one's measures inline; the page shows MAX_ROWS and says how
    # many more there are and where to read them
    rows = [[f"d{k}", k] for k in range(MAX_ROWS + 5)]
    html = table_or(["dataset", "n"], rows, "none", "`eidata query ROOT 'SELECT ...'`")
    assert html.count("<tr>") == MAX_ROWS + 1 and f"<td>d{MAX_ROWS - 1}</td>" in html and f"d{MAX_ROWS}<" not in html
    assert html.endswith(
        f'<p class="note">5 more rows of {MAX_ROWS + 5}, not shown: `eidata query ROOT &#x27;SELECT ...&#x27;`</p>'
    )
    assert capped(["dataset", "n"], rows[:MAX_ROWS], "x") == table(["dataset", "n"], rows[:MAX_ROWS])  # all shown
    # the rows past the cap not made at all (a manifest's mixture of 29,852 datasets): their count said as before
    rest = "`eidata query ROOT 'SELECT ...'`"
    assert capped(["dataset", "n"], rows[:MAX_ROWS], rest, len(rows)) == capped(["dataset", "n"], rows, rest)
