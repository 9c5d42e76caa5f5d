"""``xfer campaign run``: submit every unfinished task to Parsl, show progress, write the report.

Finished tasks (a valid ``done.json``) are not submitted at all; the others are submitted in
dependency order with the futures of their unfinished upstream tasks as Parsl ``inputs``.
A failed task fails only its downstream tasks; everything else carries on, and the report
shows the failure in its cell.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from xfer.atomic import write_json
from xfer.errors import InputError
from xfer.workflow.campaign import Campaign
from xfer.workflow.dag import build_plan
from xfer.workflow.execution import declared_resources, load_profile
from xfer.workflow.live import HEARTBEAT_S, LiveView, LogView, TaskWatch
from xfer.workflow.resources import resources_for
from xfer.workflow.store import DONE, TaskStore
from xfer.workflow.tasks import (
    KINDS,
    allow_workers,
    app_for,
    executor_label,
    stop_running_workers,
)


@dataclass
class RunSummary:
    """What one ``campaign run`` did."""

    total: int
    reused: int
    ran: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    report: Path | None = None


def save_campaign_copy(campaign: Campaign, out: Path) -> None:
    """Keep the campaign file next to its results (provenance)."""
    out.mkdir(parents=True, exist_ok=True)
    if campaign.source is not None:
        shutil.copyfile(campaign.source, out / "campaign.toml")


def run_campaign(
    campaign: Campaign,
    out: Path,
    profile: str,
    console: Console,
    workers: int | None = None,
    report: bool = True,
    heartbeat_s: float = HEARTBEAT_S,
) -> RunSummary:
    """Run (or resume) ``campaign`` into ``out`` with the Parsl ``profile``; without a
    terminal a progress heartbeat is printed every ``heartbeat_s`` seconds."""
    import parsl
    from parsl.data_provider.files import File

    start = time.perf_counter()
    plan = build_plan(campaign)
    store = TaskStore(out)
    save_campaign_copy(campaign, out)
    stale = stop_stale_executors(out / "runinfo")
    config = load_profile(profile, out / "runinfo", workers)
    cancel_stale_jobs(config, stale)
    labels = [e.label for e in config.executors]
    apps = {kind: app_for(kind, labels) for kind in KINDS}
    resources = task_resources(profile, config)
    summary = RunSummary(total=len(plan.tasks), reused=0)
    futures: dict[str, concurrent.futures.Future] = {}
    task_of = {}
    watch = TaskWatch(store)
    allow_workers()
    dfk = parsl.load(config)
    try:
        record_executors(dfk, out / "runinfo")
        for task in plan.tasks:
            if store.done(task) is not None:
                summary.reused += 1
                continue
            upstream = [futures[r.split("/")[1]] for r in task.deps.values()
                        if r.split("/")[1] in futures]  # fmt: skip
            watch.add(task)
            future = apps[task.kind](
                str(out),
                task.as_dict(),
                resources[task.kind],
                inputs=upstream,
                outputs=[File(str(store.dir_of(task) / DONE))],
            )
            futures[task.key] = future
            task_of[future] = task
        console.print(
            f"campaign {campaign.campaign.name}: {summary.total} tasks, {summary.reused} already "
            f"done, {len(futures)} to run on '{profile}' -> {out}",
            highlight=False,
        )
        _follow(
            task_of,
            summary,
            console,
            watch,
            lambda: record_executors(dfk, out / "runinfo"),
            heartbeat_s,
        )
    except BaseException:  # Ctrl-C, SIGTERM: end running tasks now, not when they finish
        stop_running_workers()
        raise
    finally:
        dfk.cleanup()
        parsl.clear()
    if report:
        from xfer.workflow.report import write_report

        summary.report = write_report(plan, store, out / "report")
    summary.wall_s = time.perf_counter() - start
    return summary


def _follow(
    task_of: dict,
    summary: RunSummary,
    console: Console,
    watch: TaskWatch,
    tick,
    heartbeat_s: float,
) -> None:
    """Wait for every future, showing starts, progress and ends (see xfer.workflow.live);
    ``tick`` runs about once a second (it records worker pools started after submission)."""
    from parsl.dataflow.errors import DependencyError

    pending = set(task_of)
    view = (
        LiveView(console, summary.total, summary.reused)
        if console.is_terminal
        else LogView(console, summary.total, summary.reused, heartbeat_s)
    )
    count = summary.reused
    with view:
        while pending:
            finished, pending = concurrent.futures.wait(
                pending, timeout=1.0, return_when=concurrent.futures.FIRST_COMPLETED
            )
            tick()
            for run in watch.poll():
                view.started(run)
            for future in finished:
                task = task_of[future]
                watch.finish(task)
                count += 1
                where = f"[{count}/{summary.total}]"
                try:
                    done = future.result()
                except DependencyError:
                    summary.skipped.append(task.label)
                    view.finished(
                        f"{where} [yellow]-[/] {escape(task.label)}: skipped (upstream failed)"
                    )
                except Exception as exc:  # the task's own failure, one line
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                    summary.failed[task.label] = reason
                    view.finished(f"{where} [red]x[/] {escape(reason)}")
                else:
                    summary.ran += 1
                    note = f" - {escape(done['note'])}" if done.get("note") else ""
                    view.finished(
                        f"{where} [green]✓[/] {escape(task.label)} ({done['wall_s']:.0f} s){note}"
                    )
            view.update(watch)


PROCESSES = "processes.json"


def task_resources(profile: str, config) -> dict[str, dict[str, int]]:
    """Ranks and threads per task kind: the profile's TASK_RESOURCES over the cores per
    worker of the executor each kind runs on."""
    declared = declared_resources(profile)
    by_label = {e.label: e for e in config.executors}
    labels = list(by_label)
    out = {}
    for kind in KINDS:
        label = executor_label(kind, labels)
        executor = by_label[label] if label else config.executors[0]
        out[kind] = resources_for(kind, declared, executor).as_dict()
    return out


def record_executors(dfk, runinfo: Path) -> None:
    """Note this campaign's pid, its local Parsl processes (interchange, worker pools) and
    its batch jobs (worker pools a scheduler runs); rewritten only when they change."""
    from parsl.providers import LocalProvider

    record: dict = {
        "owner": os.getpid(),
        "host": os.uname().nodename,
        "pids": [],
        "groups": [],
        "jobs": {},
    }
    for label, executor in dfk.executors.items():
        proc = getattr(executor, "interchange_proc", None)
        if proc is not None:
            record["pids"].append(proc.pid)
        provider = getattr(executor, "provider", None)
        if isinstance(provider, LocalProvider):
            for job in provider.resources.values():
                with contextlib.suppress(ProcessLookupError, TypeError, ValueError):
                    record["groups"].append(os.getpgid(int(job["remote_pid"])))
        elif provider is not None and provider.resources:
            record["jobs"][label] = sorted(provider.resources)
    path = runinfo / PROCESSES
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()) == record:
            return
    write_json(path, record)


def stop_stale_executors(runinfo: Path) -> dict:
    """Refuse to run beside a live campaign on the same results; end a killed one's Parsl
    processes (a SIGKILLed client leaves its interchange and local worker pool behind).
    Returns the killed campaign's record (its batch jobs are cancelled once the new
    profile's providers exist, see :func:`cancel_stale_jobs`)."""
    path = runinfo / PROCESSES
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or record.get("host") != os.uname().nodename:
        return {}
    owner = int(record.get("owner", 0))
    try:
        cmdline = Path(f"/proc/{owner}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if owner and owner != os.getpid() and b"campaign" in cmdline:
        raise InputError(f"another campaign (pid {owner}) is running on {runinfo.parent}")
    for pid in record.get("pids", []):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(pid), signal.SIGKILL)
    for group in record.get("groups", []):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(group), signal.SIGKILL)
    path.unlink(missing_ok=True)
    return record


def cancel_stale_jobs(config, record: dict) -> None:
    """Cancel the batch jobs of a killed campaign through the provider of the executor with
    the same label (their worker pools would otherwise hold nodes until their walltime or
    heartbeat runs out, and keep running tasks whose locks the new run waits for)."""
    from parsl.jobs.states import JobState, JobStatus

    jobs = record.get("jobs") or {}
    for executor in config.executors:
        ids = [str(j) for j in jobs.get(executor.label, [])]
        provider = getattr(executor, "provider", None)
        if not ids or provider is None:
            continue
        for job in ids:  # the provider cancels (and marks) only jobs it knows
            provider.resources.setdefault(
                job, {"job_id": job, "status": JobStatus(JobState.UNKNOWN)}
            )
        with contextlib.suppress(Exception):  # a job that already ended is no error
            provider.cancel(ids)
        for job in ids:
            provider.resources.pop(job, None)
