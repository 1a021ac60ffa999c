"""The HTML pieces the corpus report and the episode pages are made of: escaped text, a table, a figure, an image as
a data URI; `Markup` is HTML already made (a table cell that is a link), written as it is."""

from __future__ import annotations

import base64
import html
import io

from PIL import Image


class Markup(str):
    """HTML already escaped: `escape` and `table` write it as it is."""


def escape(text: object) -> str:
    return text if isinstance(text, Markup) else html.escape(str(text), quote=True)


def png_uri(image: Image.Image, compress_level: int = 6) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure(uri: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{escape(alt)}" src="{uri}">{cap}</figure>'


def table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


MAX_ROWS = 1000  # rows of a per-dataset table the corpus page shows; the rest counted, with where to read them


def capped(header: list[str], rows: list[list[object]], rest: str, total: int | None = None) -> str:
    """`table` of the first `MAX_ROWS` of `rows`, then a note naming how many more there are and `rest` (where every
    row is read: an `eidata query`). A corpus of 30,000 datasets listed every one's measures and findings inline (issue
    99): the page is a summary, and every finding stays reachable. `total`: the rows there are, where `rows` holds
    the first `MAX_ROWS` of them alone."""
    total = len(rows) if total is None else total
    if total <= MAX_ROWS:
        return table(header, rows)
    more = f"{total - MAX_ROWS} more rows of {total}, not shown: {rest}"
    return table(header, rows[:MAX_ROWS]) + f'<p class="note">{escape(more)}</p>'


def table_or(header: list[str], rows: list[list[object]], none: str, rest: str = "") -> str:
    """`capped` of `rows`, or the note `none` when there is no row."""
    return capped(header, rows, rest) if rows else f'<p class="note">{escape(none)}</p>'
