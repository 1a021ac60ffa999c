"""A JSON document eidata wrote itself (a manifest, a dataset's info.json in a manifest's corpus, a checkpoint's
config), parsed by Python's json. These are trusted files, read without a memory limit (issue 84: only the parse of a
source's raw bytes is bounded); a document that is not JSON, or is nested past Python's recursion, is a ValueError
naming where it was read, never a traceback from inside the parser."""

from __future__ import annotations

import json
from typing import Any


def parsed_json(text: bytes | str, where: str) -> Any:
    """`text` parsed; ValueError naming `where` when it is not JSON or nests too deep."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{where}: nested too deep to read") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{where}: not valid JSON ({e})") from None
