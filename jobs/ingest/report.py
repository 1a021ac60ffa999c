"""What an ingest job reports: per source, episodes written and quarantined and frames, the run's totals, and what
each source could not give (its findings, `schemas.findings`, as the catalog keeps them)."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from jobs.catalog.parts import parquet_files
from schemas.actions import NOT_CANONICAL_WORDS, ActionKind, NotCanonical
from schemas.corpus import EPISODES_DIR, QUARANTINE_DIR, QuarantineRow
from schemas.findings import NO_EPISODES, SOURCE_FINDINGS_DIR, SourceFinding
from schemas.pose_agreement import FK_AGREEMENT, PoseAgreement

SHOWN_PER_SOURCE = 8  # warnings and errors printed per source; the rest are counted (all are in the catalog)


@dataclass
class SourceTally:
    written: int = 0
    quarantined: int = 0
    frames: int = 0
    encoder_retries: int = 0  # episode writes done once more after an encoder fault (ingest.lerobot.encoder_faults)
    # datasets of another signature than their subset's first episode's, and why (`ingest.lerobot.routing`)
    datasets: dict[str, str] = field(default_factory=dict)
    action_kinds: Counter[str] = field(default_factory=Counter)  # episodes written by kind (`schemas.actions`)
    # those without a canonical action by (kind, cause): the `NotCanonical` code their lineage's verdicts carry
    action_causes: Counter[tuple[str, str]] = field(default_factory=Counter)
    fk_compared: Counter[str] = field(default_factory=Counter)  # episodes whose recorded pose met FK, by robot
    fk_disagreeing: Counter[str] = field(default_factory=Counter)  # ... of them, those where one disagreed
    fk_disagree: dict[str, list[PoseAgreement]] = field(default_factory=dict)  # robot -> the comparisons that did
    tiers: Counter[str] = field(default_factory=Counter)  # episodes written by tier
    spec_tier: str | None = None  # the job spec's `tier`: a default the verdicts lower, said with what it became
    # why this run quarantined episodes: stage, class and message with its numbers blanked -> (count, first row's
    # episode and message), so a source that wrote nothing says why in the table, not only in the quarantine view
    why_quarantined: dict[str, tuple[int, str]] = field(default_factory=dict)

    def quarantine(self, row: QuarantineRow) -> None:
        self.quarantined += 1
        kind = f"{row.stage} {row.error_class}: {re.sub(r'[0-9][0-9.]*', '#', row.message)}"
        count, first = self.why_quarantined.get(kind, (0, f"{row.episode_uid or row.raw_path}: {row.message}"))
        self.why_quarantined[kind] = (count + 1, first)

    def pose_checked(self, robot: str, poses: tuple[PoseAgreement, ...]) -> None:
        """One written episode of `robot` whose recorded poses were compared with FK of its joints (`poses`)."""
        self.fk_compared[robot] += 1
        if bad := [p for p in poses if not p.agree]:
            self.fk_disagreeing[robot] += 1
            self.fk_disagree.setdefault(robot, []).extend(bad)

    def lines(self, name: str) -> list[str]:
        """What the table's row cannot say: why episodes were quarantined, which action the episodes have (why one
        is not canonical, by the cause its verdicts carry; a native-only one's command is its action), where the
        declared robot's FK disagrees with the recorded pose and by how much, and, where the spec set a tier, what the
        verdicts made of it."""
        out = []
        for kind, (count, first) in list(self.why_quarantined.items())[:SHOWN_PER_SOURCE]:
            out.append(f"  {name}: quarantined {count} at {kind.split(':')[0]}, the first {first}")
        more = len(self.why_quarantined) - SHOWN_PER_SOURCE
        if more > 0:
            out.append(f"  {name}: ... and {more} more reasons (`eidata query` view quarantine)")
        if self.action_kinds.total():
            out.append(f"  {name}: actions: {', '.join(self._kind(k) for k in ActionKind)}")
        for robot, bad in sorted(self.fk_disagree.items()):
            out.append(f"  {name}: {_disagreement(robot, self.fk_disagreeing[robot], self.fk_compared[robot], bad)}")
        if self.spec_tier is not None and self.tiers.total():
            kept, judged = self.tiers.get(str(self.spec_tier), 0), self.tiers.total()
            lower = ", ".join(f"{n} {t}" for t, n in sorted(self.tiers.items()) if t != str(self.spec_tier))
            out.append(
                f"  {name}: spec tier {self.spec_tier} is a default that verdicts lower: {kept} of {judged} "
                f"episodes kept it{f' ({lower}: why in tier_reasons)' if lower else ''}"
            )
        return out

    def _kind(self, kind: ActionKind) -> str:
        """How many episodes have this kind of action and, when it is not canonical, why (each cause counted; a
        video-only episode has none: it lost nothing)."""
        n = self.action_kinds.get(kind.value, 0)
        causes = Counter({c: m for (k, c), m in self.action_causes.items() if k == kind.value and c})
        said = [(NOT_CANONICAL_WORDS[NotCanonical(c)], m) for c, m in causes.most_common()]
        why = "; ".join(words if m == n else f"{m} {words}" for words, m in said)
        if kind is ActionKind.native:
            return f"{n} native only ({why + ': ' if why else ''}action.native is the action)"
        if kind is ActionKind.none:
            return f"{n} none ({why + ', no native command: ' if why else ''}actionless)"
        return f"{n} canonical"


def _disagreement(robot: str, episodes: int, of: int, bad: list[PoseAgreement]) -> str:
    """The line of a robot whose FK disagrees with recorded poses: episodes, residuals (the comparisons' median of
    medians, the largest p95), and what to look at."""
    pos, rot = np.median([p.pos_p50_mm for p in bad]), np.median([p.rot_p50_deg for p in bad])
    return (
        f"recorded pose vs FK of {robot}: disagree in {episodes} of {of} episodes compared, position residual median "
        f"{pos:.1f} mm (p95 up to {max(p.pos_p95_mm for p in bad):.1f} mm), rotation residual median {rot:.2f} deg "
        f"(p95 up to {max(p.rot_p95_deg for p in bad):.2f} deg): is it a {robot}? check the joint mapping and units "
        f"(tier_notes, code {FK_AGREEMENT})"
    )


@dataclass
class IngestReport:
    output: Path
    tallies: dict[str, SourceTally] = field(default_factory=dict)
    skipped: int = 0  # raw episodes already done by an earlier run
    seconds: float = 0.0
    nodes: int = 1  # Ray nodes that took part (each saw the output folder)
    findings: list[SourceFinding] = field(default_factory=list)  # the sources' findings (catalog/source_findings)
    parse_limit: str = ""  # each parse process's memory limit and the mechanism (adapters.hostile.limits), said once
    # episodes of the spec's sources the corpus holds quarantined once the run ends, by source: this run's and those
    # an earlier run left (a resumed run quarantines nothing anew, yet the corpus is no cleaner; `--strict` reads it)
    held: dict[str, int] = field(default_factory=dict)
    reread: list[str] = field(default_factory=list)  # sources this run read again (`jobs.ingest.reread`)
    episodes_held: int = 0  # episodes the corpus's catalog holds at the run's end, every source's (`episodes_held`)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tallies.values())

    @property
    def held_quarantined(self) -> int:
        return sum(self.held.values())

    @property
    def empty_sources(self) -> list[SourceFinding]:
        """The `no_episodes` finding of each source that yielded no episode (`--strict` makes them an error)."""
        return [f for f in self.findings if f.code == NO_EPISODES]

    @property
    def written(self) -> int:
        return sum(t.written for t in self.tallies.values())

    def nothing_written(self) -> str | None:
        """Why the corpus holds no episode after this run (none written, none by an earlier run), else None: such a
        run is a failure, not a success (issue 79: a `rosbag` source given a LeRobot folder exited 0). What the
        corpus holds decides, not what this run skipped: a rerun whose raw episodes were all quarantined before
        skips them all and leaves the corpus as empty (issue 98 item 6: it exited 0)."""
        if self.written or self.episodes_held:
            return None
        why = [f"source {f.source}: {f.message}" for f in self.empty_sources]
        why += [f"source {n}: {t.quarantined} quarantined" for n, t in self.tallies.items() if t.quarantined]
        why += [  # what an earlier run quarantined, which this one skipped as done
            f"source {n}: {held - t.quarantined} quarantined by an earlier run (`eidata query` its quarantine rows)"
            for n, t in self.tallies.items()
            if (held := self.held.get(n, 0)) > t.quarantined
        ]
        return "nothing was written: " + ("; ".join(why) or "no source yielded an episode")

    def next_steps(self) -> str:
        """What to run next on the corpus: the verdicts only the whole corpus can give (copies, dead dims: until they
        run, copies stay high), then a manifest."""
        out = shlex.quote(str(self.output))
        return (
            f"next: `eidata verdicts {out}` (copies across sources, dead dims: until it runs they keep their tier), "
            f"then `eidata curate {out} --name NAME --where \"tier = 'high'\"`"
        )

    def table(self) -> str:
        rows = [f"{'source':16s} {'written':>8s} {'quarantined':>11s} {'hours':>8s} {'frames/s':>9s}"]
        for name, t in self.tallies.items():
            rate = t.frames / self.seconds if self.seconds else 0.0
            rows.append(f"{name:16s} {t.written:8d} {t.quarantined:11d} {t.frames / 36000:8.3f} {rate:9.0f}")
        rows.append(f"{len(self.tallies)} sources, {self.skipped} raw episodes already done, {self.seconds:.1f} s")
        if self.reread:  # their raw episodes are counted done above: this run's re-read did them
            rows.append(
                f"re-read under the spec as it is now: {', '.join(self.reread)} (their episodes and quarantine rows "
                "replaced; job/readings.jsonl records each reading)"
            )
        if self.parse_limit:
            rows.append(f"each source's bytes parsed in a process of its own under {self.parse_limit}")
        retries = sum(t.encoder_retries for t in self.tallies.values())
        if retries:
            rows.append(f"{retries} episode writes done once more after an encoder fault")
        for name, t in self.tallies.items():
            rows += t.lines(name)
        for name, t in self.tallies.items():  # a subset whose recordings differ: a dataset per signature, said
            rows += [f"  {name}: dataset {d}: {why}" for d, why in sorted(t.datasets.items())]
        if self.nodes > 1:
            rows.append(f"{self.nodes} Ray nodes, each saw the output folder {self.output} (shared filesystem check)")
        if self.findings:  # per source, its warnings and errors (the root of each, the first cause), infos counted
            rows.append(f"source findings (all in {SOURCE_FINDINGS_DIR}/, `eidata query` view source_findings):")
            for name in dict.fromkeys(f.source for f in self.findings):
                mine = [f for f in self.findings if f.source == name]
                loud = [f for f in mine if f.severity != "info"]
                roots = sorted({f.root for f in mine})
                rows.append(
                    f"  {name} ({', '.join(roots)}): {len(loud)} warnings/errors, {len(mine) - len(loud)} infos"
                )
                rows += [f"    {f.subset + ': ' if f.subset else ''}{f.line()}" for f in loud[:SHOWN_PER_SOURCE]]
                if len(loud) > SHOWN_PER_SOURCE:
                    rows.append(f"    ... and {len(loud) - SHOWN_PER_SOURCE} more")
        if self.nothing_written() is None:
            rows.append(self.next_steps())
        return "\n".join(rows)


def episodes_held(output: Path) -> int:
    """How many episodes the catalog of the corpus `output` holds (its parts' footers: no row is read)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(output, EPISODES_DIR))


def quarantined_held(output: Path, sources: list[str]) -> dict[str, int]:
    """How many episodes of each of `sources` the corpus `output` holds quarantined (its committed quarantine parts)."""
    held = dict.fromkeys(sources, 0)
    for part in parquet_files(output, QUARANTINE_DIR):
        for name in pq.read_table(part, columns=["source"])["source"].to_pylist():
            if name in held:
                held[name] += 1
    return held
