"""``xfer campaign run|status|report``: whole studies from one campaign TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Campaigns: the whole study from one TOML file.", no_args_is_help=True)

CampaignFile = Annotated[Path, typer.Argument(help="campaign TOML")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="results directory (default: campaign.out or runs/<name>)"),
]


def _load(path: Path, out: Path | None):
    from xfer.workflow.campaign import load_campaign
    from xfer.workflow.dag import build_plan
    from xfer.workflow.store import TaskStore

    campaign = load_campaign(path)
    return campaign, build_plan(campaign), TaskStore(campaign.out_dir(out))


@app.command()
def run(
    file: CampaignFile,
    parsl: Annotated[
        str | None,
        typer.Option("--parsl", help="local, local-threads, slurm-gpu, pbs or a config file"),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="check every input, print the task DAG and counts, run nothing"
        ),
    ] = False,
    out: OutOption = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="tasks at once (local profiles)")
    ] = None,
    heartbeat: Annotated[
        float,
        typer.Option(
            "--heartbeat",
            min=1,
            help="seconds between progress heartbeats when stdout is not a terminal",
        ),
    ] = 60.0,
) -> None:
    """Run (or resume) every unfinished task of the campaign, then write the report."""
    from xfer.workflow.dag import print_dry_run
    from xfer.workflow.preflight import check_campaign
    from xfer.workflow.runner import run_campaign

    campaign, plan, store = _load(file, out)
    profile = parsl or campaign.campaign.parsl
    check_campaign(campaign, store.out, profile, workers)  # what a run reads, before it runs
    console = Console()
    if dry_run:
        print_dry_run(plan, store, console)
        return
    summary = run_campaign(
        campaign, store.out, profile, console, workers=workers, heartbeat_s=heartbeat
    )
    console.print(
        f"{summary.ran} tasks run, {summary.reused} reused, {len(summary.failed)} failed, "
        f"{len(summary.skipped)} skipped in {summary.wall_s:.0f} s",
        highlight=False,
    )
    if summary.report is not None:
        console.print(f"report: {summary.report} (+ report.html)", highlight=False)
    if summary.failed:
        from xfer.workflow.tasks import TaskFailed

        first = next(iter(summary.failed.values()))
        raise TaskFailed(
            f"{len(summary.failed)} task(s) failed (first: {first}); "
            f"see `xfer campaign status {file}`"
        )


@app.command()
def status(file: CampaignFile, out: OutOption = None) -> None:
    """Per stage: done / running / failed (with reasons) / pending."""
    from xfer.workflow.status import print_status

    _, plan, store = _load(file, out)
    print_status(plan, store, Console())


@app.command()
def report(file: CampaignFile, out: OutOption = None) -> None:
    """Write report.md and report.html from the finished tasks."""
    from xfer.workflow.report import write_report

    _, plan, store = _load(file, out)
    path = write_report(plan, store, store.out / "report")
    Console().print(f"report: {path} (+ report.html)", highlight=False)
