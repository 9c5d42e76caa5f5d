"""``xfer campaign status``: per stage done / running / failed (with reasons) / pending.

Read from the task directories only (no Parsl): a live lock is *running*, ``failed.json``
is *failed*, a try without a marker whose process is gone is *interrupted* (redone on the
next run); running tasks show their try's progress (``progress.json``). Halted MD runs
are finished results and are listed as such.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from xfer.workflow.dag import Plan, print_counts
from xfer.workflow.live import attempt_progress, describe, latest_attempt
from xfer.workflow.store import TaskStore


def print_status(plan: Plan, store: TaskStore, console: Console) -> dict[str, int]:
    """Print the stage table, then failed, running and halted tasks; return state totals."""
    totals: dict[str, int] = {}
    failed, running, halted = [], [], []
    for task in plan.tasks:
        state, detail = store.state(task)
        totals[state] = totals.get(state, 0) + 1
        if state == "failed":
            failed.append((task, detail))
        elif state == "running":
            running.append(task)
        elif state == "done" and task.kind == "md" and detail.startswith("halted"):
            halted.append((task, detail))
    console.print(
        f"campaign {plan.campaign.campaign.name}: {store.out}", highlight=False, soft_wrap=True
    )
    print_counts(plan, store, console, title="tasks by stage")
    for task, reason in failed:
        console.print(
            f"[red]failed[/] {escape(task.label)}: {escape(reason)}",
            highlight=False,
            soft_wrap=True,
        )
    for task in running:
        record = attempt_progress(store, task, latest_attempt(store, task)[0])
        console.print(
            f"[cyan]running[/] {escape(task.label)}: {escape(describe(record))}",
            highlight=False,
            soft_wrap=True,
        )
    for task, detail in halted:
        console.print(
            f"[yellow]halted (a result)[/] {escape(task.label)}: {escape(detail)}", highlight=False
        )
    report = store.out / "report" / "report.md"
    if report.is_file():
        console.print(f"report: {report}", highlight=False, soft_wrap=True)
    return totals
