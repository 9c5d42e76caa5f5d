"""Upper-bound cost of a campaign from its dry-run task list and measured per-task rates.

Every train task costs its architecture's training time; every md task its steps times the
architecture's seconds per step (no halts: an upper bound); analysis, dataset labelling and
OPLS runs are given separately. Rates default to the ones measured for the tiny presets at
160 atoms, one core per task (issue 14): MACE 0.14 s/step and 10 min training, DeePMD 0.04
and 14 min, GAP 0.4 and 0.5 min. Prints core-hours per item and the wall time on N cores.

    .venv/bin/python benchmarks/estimate_campaign_cost.py examples/study.toml [--cores 2]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from xfer.workflow.campaign import load_campaign
from xfer.workflow.dag import build_plan

STEP_S = {"mace": 0.14, "deepmd": 0.04, "gap": 0.4}
TRAIN_MIN = {"mace": 10.0, "deepmd": 14.0, "gap": 0.5}


def estimate(path: Path, labelling_s: float, analyze_s: float) -> dict[str, float]:
    """Core-seconds per item of the campaign at ``path``."""
    plan = build_plan(load_campaign(path))
    cost: Counter[str] = Counter()
    for member in plan.train:
        cost[f"train {member.arch}"] += 60.0 * TRAIN_MIN[member.arch]
    for (member, ensemble), task in plan.md.items():
        steps = task.spec["settings"]["time_ps"] * 1000.0 / task.spec["settings"]["timestep_fs"]
        cost[f"md {member.arch} {ensemble}"] += steps * STEP_S.get(member.arch, 0.0)
    cost["analyze"] += analyze_s * len(plan.analyze)
    cost["dataset labelling"] += labelling_s
    return dict(cost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaign", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--labelling-s", type=float, default=1800.0,
                        help="core-seconds to build and label the dataset")
    parser.add_argument("--analyze-s", type=float, default=20.0, help="per analysis task")
    args = parser.parse_args()
    cost = estimate(args.campaign, args.labelling_s, args.analyze_s)
    for item, seconds in sorted(cost.items()):
        print(f"{item:24s} {seconds / 3600:6.2f} core-h")
    total = sum(cost.values()) / 3600
    print(f"{'total':24s} {total:6.2f} core-h = {total / args.cores:.2f} h on {args.cores} cores")


if __name__ == "__main__":
    main()
