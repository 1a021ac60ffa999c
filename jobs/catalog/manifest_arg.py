"""What `--manifest` takes, the same for every command that reads a manifest (`eidata export`, `eidata train`,
`eidata eval`): a manifest's NAME in the corpus (ROOT/manifests/NAME/, as `eidata curate --name NAME` writes it), the
path of its folder, or the path of its `manifest.json` or entries file; a bucket manifest by its URL.

A command with a corpus (export's ROOT) looks a NAME up in it; one without (train, eval) in the current folder as
the corpus (./manifests/NAME). A manifest that is not there is refused with a command that works (`missing_hint`):
the `--manifest` of a corpus below the current folder that holds one of that name, else the curate that writes it.
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from adapters.storage.root import Root
from schemas.corpus import DATASETS_DIR, MANIFESTS_DIR
from schemas.manifest import ENTRIES_NAME, MANIFEST_JSON

log = logging.getLogger(__name__)


def manifest_folder(given: str | Path, root: str | Path | None = None) -> str:
    """The manifest folder `--manifest given` names (not checked to exist): a NAME (no '/') is ROOT/manifests/NAME
    (`root` None: manifests/NAME, the current folder's), a file of the folder its folder, any other path or URL
    itself, without a trailing slash. Idempotent: a folder it returned resolves to itself."""
    text = str(given).rstrip("/") or str(given)
    head, _, last = text.rpartition("/")
    if last == MANIFEST_JSON or ENTRIES_NAME.fullmatch(last):
        return head or "."
    if "/" in text or text in (".", ".."):  # a URL has its "//"
        return text
    base = "" if root is None or str(root) in ("", ".") else str(root).rstrip("/") + "/"
    return f"{base}{MANIFESTS_DIR}/{text}"


def missing_hint(given: str | Path, root: str | Path | None = None) -> str:
    """What to run when the manifest `--manifest given` names is not there, as one clause led by '; ': for a NAME
    without a corpus, the folders of that name in the corpora one folder below the current one (what `--manifest`
    should say); else the manifests the corpus has and the curate command that writes this one (ROOT to fill in
    only where no corpus is known)."""
    folder = manifest_folder(given, root)
    name = folder.rsplit("/", 1)[-1]
    if root is None and "/" not in folder.removeprefix(f"{MANIFESTS_DIR}/"):
        found = sorted(str(p.parent) for p in Path().glob(f"*/{MANIFESTS_DIR}/{name}/{MANIFEST_JSON}"))
        if found:
            named = " or ".join(f"`--manifest {shlex.quote(f)}`" for f in found)
            return f"; {named} names a manifest of that name"
    corpus = str(root) if root is not None else corpus_of(folder)  # a guessed one only where it is a corpus
    corpus = corpus if root is not None or corpus is None or Path(corpus, DATASETS_DIR).is_dir() else None
    have = _manifests(corpus) if corpus is not None else []
    listed = f"; {corpus} has the manifests {', '.join(have)}" if have else ""
    where = shlex.quote(corpus) if corpus is not None else "ROOT"
    return f"{listed}; `eidata curate {where} --name {shlex.quote(name)} --where TRUE` writes one of every episode"


def corpus_of(folder: str) -> str | None:
    """The corpus a manifest folder ROOT/manifests/NAME lies in, else None."""
    parts = folder.rsplit("/", 2)
    if len(parts) == 3 and parts[1] == MANIFESTS_DIR:
        return parts[0] or "/"
    return "." if len(parts) == 2 and parts[0] == MANIFESTS_DIR else None


def _manifests(corpus: str) -> list[str]:
    """The names of the manifests in the corpus `corpus`, a folder or a bucket's (`Root.list`: one listing, then one
    existence check per name; a store that does not answer names none rather than failing the message it feeds)."""
    root = Root(corpus)
    try:
        names = root.list(MANIFESTS_DIR)
        return [n for n in names if root.exists(f"{MANIFESTS_DIR}/{n}/{MANIFEST_JSON}")]
    except OSError as e:
        log.debug("%s: its manifests not listed (%s)", corpus, e)
        return []
