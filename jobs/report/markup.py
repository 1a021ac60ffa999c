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


def table_or(header: list[str], rows: list[list[object]], none: str) -> str:
    """`table` of `rows`, or the note `none` when there is no row."""
    return table(header, rows) if rows else f'<p class="note">{escape(none)}</p>'
