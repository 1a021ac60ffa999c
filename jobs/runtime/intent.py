"""A step that writes lineages (or derived files) and then rebuilds the catalog records its intent first, so that a kill
or a full disk between the two is finished by the next run instead of leaving the catalog behind (issue 45 item 4:
`eidata verdicts` killed before its rebuild left the lineage saying "rejected" and the catalog not; the rerun found
nothing to rewrite, and `curate` selected the verified copies).

    CatalogIntent.begin(root, command)   catalog/.pending-<command>-<token>.json written (atomic, fsynced)
    ... the step writes ...
    rebuild_catalog                      then `done()` removes it (and the markers of dead runs it finished)

A marker left by another run (`inherited`) makes the next stage rebuild the catalog whatever it wrote itself;
`eidata catalog ROOT` clears every marker it saw before its rebuild; readers of the catalog refuse a corpus with a
marker (`refuse_pending`). A marker of a run that is still going (same host, live pid) is never removed by another run.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from adapters.storage.atomic import atomic_write, fsync_path
from schemas.storage import CatalogError

CATALOG = "catalog"
PREFIX = ".pending-"


class CatalogPendingError(CatalogError):
    """The catalog may be behind the corpus's lineage: a step that writes both was interrupted (or runs now)."""


@dataclass(frozen=True)
class Marker:
    path: Path
    command: str
    pid: int
    host: str

    def live(self) -> bool:
        """Whether the run that wrote it may still be going: on this host with its pid alive (another host's run
        cannot be asked, and is taken for dead: a step runs from one driver)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, another user's
            return True
        return self.pid != os.getpid()


def markers(root: Path) -> list[Marker]:
    """The intents recorded in the corpus folder `root`, oldest name first (an unreadable one counts, as `?`)."""
    folder = Path(root) / CATALOG
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob(f"{PREFIX}*.json")):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            out.append(Marker(p, str(doc["command"]), int(doc["pid"]), str(doc["host"])))
        except (OSError, ValueError, KeyError, TypeError):
            out.append(Marker(p, "?", -1, ""))
    return out


def clear(found: list[Marker]) -> None:
    for m in found:
        m.path.unlink(missing_ok=True)
    if found:
        fsync_path(found[0].path.parent)


@dataclass
class CatalogIntent:
    """One run's marker, and the markers of other runs it found when it began."""

    marker: Marker
    inherited: list[Marker] = field(default_factory=list)

    @classmethod
    def begin(cls, root: Path, command: str) -> CatalogIntent:
        before = markers(root)
        path = Path(root) / CATALOG / f"{PREFIX}{command}-{uuid.uuid4().hex[:12]}.json"
        mine = Marker(path, command, os.getpid(), socket.gethostname())
        atomic_write(path, json.dumps({"command": command, "pid": mine.pid, "host": mine.host}) + "\n")
        return cls(mine, before)

    def done(self) -> None:
        """The catalog is rebuilt (or needed no rebuild): this run's marker and those of finished runs go."""
        clear([self.marker, *(m for m in self.inherited if not m.live())])


def refuse_pending(root: Path, where: str, reader: str) -> None:
    """CatalogPendingError when the corpus folder `root` (named `where` to the user) holds an intent: `reader` would
    read a catalog that may be behind the lineage."""
    found = markers(root)
    if not found:
        return
    commands = ", ".join(sorted({f"`eidata {m.command}`" for m in found}))
    raise CatalogPendingError(
        f"{where}: the catalog may be behind the datasets' lineage: {commands} did not finish (interrupted, or still"
        f" running); {reader} refuses it. Run `eidata catalog {where}` (or rerun the same command) to finish it"
    )
