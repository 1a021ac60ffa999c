"""The side-by-side table from the two runs' JSON: per case, what each tool reports that it does not report on the
clean copy (the same five real episodes), so a tool's standing complaints about the clean data are not counted as
finding the planted defect; and how much each reports on the clean data itself.

    .venv/bin/python -m benchmarks.linters_side_by_side.compare /tmp/ours.json /tmp/linters.json
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

PLANTED = {"duplicate": 4}  # the episode the defect is in, where it is not episode 1


def doctor_messages(report: dict | None) -> set[tuple[str, str]]:
    """(check name, message with numbers blanked) of every WARN/FAIL message."""
    if not report:
        return set()
    out = set()
    for check in report.get("checks", []):
        for m in check.get("messages", []):
            if m["severity"] in ("WARN", "FAIL"):
                out.add((check["name"], re.sub(r"[-+]?\d+(\.\d+)?", "#", m["message"])))
    return out


def lint_findings(report: dict | None, episode: int) -> set[tuple[str, str]]:
    """(check id, joint) of every finding on the planted episode or the whole dataset, severity above info."""
    if not report:
        return set()
    return {
        (f["check"], str(f.get("joint")))
        for f in report.get("findings", [])
        if f["severity"] != "info" and f.get("episode") in (episode, None)
    }


def main() -> None:
    ours, linters = (json.loads(Path(a).read_text()) for a in sys.argv[1:3])
    clean_doc = doctor_messages(linters["clean"]["doctor"]["report"])
    rows = []
    for case in ours:
        ep = PLANTED.get(case, 1)
        doc_report, lint_report = linters[case]["doctor"]["report"], linters[case]["lint"]["report"]
        if case == "clean":  # everything they report on the clean real data, every episode
            doc = doctor_messages(doc_report)
            every = (lint_report or {}).get("findings", [])
            lint = {(f["check"], f"{f.get('episode')}/{f.get('joint')}") for f in every if f["severity"] != "info"}
            mine = [c for v in ours[case]["episodes"].values() for c in v]
        else:
            doc = doctor_messages(doc_report) - clean_doc
            lint = lint_findings(lint_report, ep) - lint_findings(linters["clean"]["lint"]["report"], ep)
            mine = list(ours[case]["episodes"][str(ep)])
        if case == "duplicate":
            mine += [f"near-duplicate {a}~{b} ({s:.2f})" for a, b, s in ours[case]["duplicates"]]
        if case == "idle_ends":
            v = ours[case]["planted_values"]
            mine.append(
                f"idle {v['idle_start_s']:.1f} s + {v['idle_end_s']:.1f} s, trim [{v['trim_start']}, {v['trim_stop']})"
            )
        loaded = lint_report is not None
        rows.append((case, Counter(c for c, _ in doc), Counter(c for c, _ in lint), mine, loaded))
    print("| case | lerobot-doctor 0.2.0 (new WARN/FAIL, by check) | lerobot-lint 0.1.1 (new findings) | eidata |")
    print("| --- | --- | --- | --- |")
    for case, doc, lint, mine, loaded in rows:
        d = ", ".join(f"{c} x{n}" for c, n in sorted(doc.items())) or "-"
        li = ", ".join(f"{c} x{n}" for c, n in sorted(lint.items())) or ("-" if loaded else "(did not load)")
        print(f"| {case} | {d} | {li} | {', '.join(mine) or '-'} |")


if __name__ == "__main__":
    main()
