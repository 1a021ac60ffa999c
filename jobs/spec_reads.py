"""The spec check's reads of a source's files, behind the one parse boundary (issue 97 item 1).

The check that finds a typo in a source's options against its meta files (`SourceAdapter.spec_problems`: an OXE
builder's `features.json`, a LeRobot `info.json` and `modality.json`) parses the source's bytes as discovery does, so
it runs where discovery runs: in a parse process under the job's memory bound (`adapters.hostile.sandbox`), each file
whose parse fails refused at its open and the check run again without it (`adapters.hostile.isolated.isolated_check`,
and `answer_refusing` for a file that kills the process). A 10^5-deep `features.json` beside two good Bridge builders
ended `eidata ingest` with a RecursionError before any work; the check now reads past it, and discovery, which meets the
same file, quarantines its episodes naming it. A check that cannot finish is said in one line and costs nothing but
itself; an error of the environment is raised, as everywhere (`schemas.faults`).
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.hostile.sandbox import answer_refusing
from adapters.registry import get_adapter
from adapters.storage.root import Root
from schemas.faults import environment_fault
from schemas.storage import StorageOptions

log = logging.getLogger(__name__)

Problem = tuple[tuple[str, ...], str]


def _problems(adapter: str, options: dict[str, Any], storage: StorageOptions | None, root: Any) -> list[Problem]:
    return get_adapter(adapter, options, storage).spec_problems(Root(root, storage).location())


def options_problems(
    name: str, adapter: str, options: dict[str, Any], storage: StorageOptions | None, root: Any, mib: int | None
) -> list[Problem]:
    """What source `name`'s options name that its files show to be a typo (`(field path, message)` each), read in a
    parse process under `mib` MiB; none when the check cannot finish (said: discovery names the file that fails)."""
    try:
        return answer_refusing(_problems, adapter, options, storage, root, mib=mib, what=f"{name}: spec check")
    except Exception as e:
        if environment_fault(e) is not None:
            raise
        log.warning("source %s: the spec check of its options stopped (%s); discovery names what fails", name, e)
        return []
