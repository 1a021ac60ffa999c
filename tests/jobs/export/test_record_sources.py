"""An export's completion record names the corpus dataset it was made from (`SOURCE_KEY`, read by
`adapters.storage.hard_links`) as the user gave the corpus, through the one call that does (`Corpus.named`): a bucket
corpus is read through a scratch copy, and a record naming that path (as `os.path.abspath(src)` did, in the LingBot-VA
and GR00T exports) made the exported tree differ from run to run and from the local export."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs")


def test_every_record_source_is_the_corpus_as_its_user_named_it() -> None:
    """Each `{SOURCE_KEY: value}` of the shipped tree takes its value from `<corpus>.named(...)`."""
    seen, other = 0, []
    for top in SHIPPED:
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Name) and key.id == "SOURCE_KEY":
                        seen += 1
                        named = isinstance(value, ast.Call) and getattr(value.func, "attr", None) == "named"
                        if not named:
                            other.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(value)}")
    assert seen >= 2 and other == []
