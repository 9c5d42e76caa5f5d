"""The report's halt sections: one line per halted run and failure modes per committee.

Each halted run's triage directory (halt.json, halt_frames.extxyz, halt.png, written by
the analyze task) is copied next to the report under ``halts/<model>-<ensemble>/`` so the
report directory stands alone.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from xfer.workflow.dag import Member, Plan
from xfer.workflow.results import CampaignResults

HALTS_DIR = "halts"


def _slug(member: Member, ensemble: str) -> str:
    return f"{member.name.replace('/', '_')}-{ensemble}"


def copy_halt_files(data: CampaignResults, out: Path) -> dict[tuple[Member, str], Path]:
    """Copy every triage directory under ``out/halts``; returns their paths relative to out."""
    copied = {}
    for (member, ensemble), halt in sorted(data.halts.items(), key=lambda kv: kv[0][0].name):
        rel = Path(HALTS_DIR) / _slug(member, ensemble)
        target = out / rel
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(halt.directory, target)
        copied[member, ensemble] = rel
    return copied


def failure_modes(plan: Plan, data: CampaignResults) -> list[list[str]]:
    """Rows (committee, ensemble, halted, modes with counts, closest contact) per committee."""
    rows = []
    members = [*plan.members, *plan.reference]
    groups = list(dict.fromkeys(m.group for m in members))
    for group in groups:
        group_members = [m for m in members if m.group == group]
        for ensemble in ("npt", "nvt"):
            ran = [m for m in group_members if (m, ensemble) in data.md]
            halted = [data.halts[m, ensemble].report for m in ran if (m, ensemble) in data.halts]
            untriaged = sum(data.md[m, ensemble]["halted"] for m in ran) - len(halted)
            if not ran:
                continue
            counts = Counter(h.failure for h in halted)
            modes = "; ".join(f"{n}/{len(ran)} {mode}" for mode, n in counts.most_common())
            if untriaged:
                modes += ("; " if modes else "") + f"{untriaged} halted, not triaged"
            contacts = [h.closest_contact_A for h in halted if h.closest_contact_A is not None]
            closest = f"{min(contacts):.2f}" if contacts else ""
            n_halted = len(halted) + untriaged
            rows.append([group, ensemble.upper(), f"{n_halted}/{len(ran)}", modes or "none",
                         closest])  # fmt: skip
    return rows
