"""Source findings: what a source as a whole could not give, said once and read by every consumer.

An episode that cannot be read is quarantined with its reason (`schemas.corpus.QuarantineRow`). What a source lacks
beyond its episodes has no episode to quarantine: a dataset whose `info.json` declares 105 episodes of which 19 are
there, a declared camera without a file, files the path template does not name, a folder an adapter skipped and why,
a root that yields no episode at all. An adapter notes each as a `SourceFinding` while it discovers
(`adapters.source_adapter` `note` / `findings`); the ingest job's discovery gives each its source name and writes a
source's findings to `catalog/source_findings/<source>.parquet` (replaced each time the source is discovered, so a
rerun leaves the same bytes), and every reader takes them from there: the job's summary, `eidata query`'s
`source_findings` view, `eidata report` and `eidata validate`. An episode's lineage names the findings that concern it
(`EpisodeLineage.source_findings`, from `RawEpisode.findings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.arrow import arrow_schema
from schemas.frozen import Frozen

SOURCE_FINDINGS_DIR = "catalog/source_findings"
Severity = Literal["info", "warning", "error"]  # as `schemas.quirks.Severity`
NO_EPISODES = "no_episodes"  # the code of a source that yielded no episode at all (`--strict` makes it an error)


class SourceFinding(Frozen):
    """One thing a source could not give, or a decision about it, as a whole (not one episode's failure)."""

    source: str = Field(description="the job's source name (the adapter's name until the job sets it)")
    adapter: str = Field(description="registry name of the adapter that noted it")
    root: str = Field(description="the source root discovery read")
    subset: str | None = Field(None, description="the dataset (subset) it concerns; None: the whole source")
    code: str = Field(description="what kind of finding: total_episodes_mismatch, ghost_camera, folder_skipped, ...")
    severity: Severity = Field(
        description="error: data it declares is missing; warning: something off or skipped; info: a decision noted"
    )
    message: str = Field(description="what is missing or was skipped, and the first cause")
    path: str | None = Field(None, description="the file or folder it names")
    episodes: tuple[str, ...] | None = Field(
        None, description="raw ids of the episodes it concerns; None: every episode of `subset` (or of the source)"
    )

    def concerns(self, subset: str, raw_id: str) -> bool:
        """Whether this finding is about the episode `raw_id` of `subset` (its lineage then names it)."""
        if self.subset is not None and self.subset != subset:
            return False
        return self.episodes is None or raw_id in self.episodes

    def concerns_dataset(self, source: str, subset: str) -> bool:
        """Whether it is about the written dataset `datasets/<source>/<subset>` (a size split `<subset>@WxH` is
        its subset's)."""
        return self.source == source and (self.subset is None or subset.split("@", 1)[0] == self.subset)

    def line(self) -> str:
        """One line as the job summary, `validate` and the lineage say it."""
        where = f" [{self.path}]" if self.path else ""
        return f"{self.severity.upper()} {self.code}: {self.message}{where}"


SOURCE_FINDINGS_SCHEMA = arrow_schema(SourceFinding)
