"""eidata's behaviour QA on every case: per episode, the findings' codes; per case, the verified copies (fingerprint
candidates checked on the signals, `ingest.qa.copies`, as `eidata verdicts` does): [first, second, residual].

.venv/bin/python -m benchmarks.linters_side_by_side.ours > /tmp/ours.json
"""

from __future__ import annotations

import json

import numpy as np

from benchmarks.linters_side_by_side.cases import CASES, PLANTED_IN, SAMPLE, episodes
from ingest.canonical.limits import DimLimits
from ingest.qa.behaviour import measure_episode
from ingest.qa.copies import copy_check, scale_with_floor
from ingest.qa.duplicates import near_duplicates
from ingest.qa.findings import findings
from schemas.behaviour import BehaviourConfig
from tests.realdata import realdata


def limits() -> DimLimits:
    stats = json.loads((realdata(SAMPLE) / "meta" / "stats.json").read_text())["observation.state"]
    modality = json.loads((realdata(SAMPLE) / "meta" / "modality.json").read_text())["state"]
    rest = np.zeros(len(stats["min"]), bool)
    for part in ("left_hand", "right_hand"):
        rest[modality[part]["start"] : modality[part]["end"]] = True
    return DimLimits(np.array(stats["min"]), np.array(stats["max"]), ("rad",) * len(rest), rest)


def main() -> None:
    cfg, lim, out = BehaviourConfig(), limits(), {}
    for case in CASES:
        eps = episodes(case)
        recs = [measure_episode(e.state, e.fps, lim, cfg, action=e.action, cameras={"ego": e.frames}) for e in eps]
        pairs = near_duplicates(np.array([r.fingerprint for r in recs], np.uint32), cfg)
        scale = scale_with_floor(np.ptp(np.concatenate([e.state for e in eps]), axis=0))
        checks = [
            (int(a), int(b), copy_check(eps[a].state, eps[b].state, scale, cfg))
            for a, b in zip(pairs.first, pairs.second, strict=True)
        ]
        out[case] = {
            "episodes": {i: sorted({f.code for f in findings(r, cfg)}) for i, r in enumerate(recs)},
            "duplicates": [[a, b, round(c.residual, 4)] for a, b, c in checks if c.is_copy(cfg)],
            "planted_values": recs[PLANTED_IN].model_dump(exclude={"fingerprint"}, exclude_none=True),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
