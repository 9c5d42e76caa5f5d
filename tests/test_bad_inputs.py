"""Bad input, faults and interrupts across every verb: one ``error:`` line, the right exit code.

A table of cases, each run through the real CLI entry point (:func:`xfer.cli.main`) on tiny
real fixtures (a 25-atom OPLS run, an import-only dataset labelled with GFN2-xTB, extxyz
files): exit code 2, exactly one ``error:`` line on stderr matching the case, no traceback,
and nothing left in ``--out`` that blocks the corrected command. Ctrl-C, SIGTERM and the
warnings log are checked on real ``xfer`` subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from xfer.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY_MD = ["--mix", "EC:1,EMC:1", "--density", "0.5", "--ensemble", "nvt"]
FINISHED = [*TINY_MD, "--time-ps", "0.02", "--thermo-every", "2", "--dump-every", "4"]
BLOCKING = ("result.json", "manifest.json", "work/config.json", "analysis.json")
KEYS = "key_map = {energy = 'E', forces = 'F'}"


def _water(labelled: bool = True, element: str = "O") -> Atoms:
    atoms = Atoms(f"H2{element}", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    if labelled:
        atoms.info["E"] = -14.0
        atoms.arrays["F"] = np.zeros((3, 3))
    return atoms


def _import_toml(path: str, extra: str = "", e0: str = '["H", "O"]') -> str:
    return f'{extra}\n[e0]\nelements = {e0}\n[[import]]\npath = "{path}"\n{KEYS}\ntag = "w"\n'


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Read-only material every case may point at (copied before a case corrupts it)."""
    base = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XFER_LOG", str(base.parent / "world-xfer.log"))
        return _make_world(base)


def _make_world(base: Path) -> dict[str, Path]:
    write(base / "water.xyz", [_water(), _water()], format="extxyz")
    write(base / "unlabelled.xyz", [_water(labelled=False)], format="extxyz")
    write(base / "xenon.xyz", [_water(element="Xe")], format="extxyz")
    write(base / "ref.xyz", [_ref_frame(_water())], format="extxyz")
    write(base / "ref_unlabelled.xyz", [_water(labelled=False)], format="extxyz")
    (base / "build.toml").write_text(_import_toml("water.xyz"))
    (base / "a_file").write_text("not a directory\n")
    (base / "not.toml").write_text("this is [not toml\n")
    assert main(["md", "--out", str(base / "run"), *FINISHED]) == 0
    assert main(["dataset", "build", str(base / "build.toml"), "--out", str(base / "ds")]) == 0
    mini = (ROOT / "examples" / "mini.toml").read_text()
    campaign = mini.replace('build = "dataset-small.toml"', f'path = "{base / "ds"}"')
    (base / "campaign.toml").write_text(campaign.replace('"local"', '"local-threads"', 1))
    return {p.name.replace(".", "_"): p for p in base.iterdir()} | {"base": base}


def _ref_frame(atoms: Atoms) -> Atoms:
    atoms.info["REF_energy"] = atoms.info.pop("E")
    atoms.arrays["REF_forces"] = atoms.arrays.pop("F")
    return atoms


# --- per-case set-up: make a broken copy under the case's own directory -----------------


def _copy_run(tmp: Path, w: dict[str, Path]) -> Path:
    return Path(shutil.copytree(w["run"], tmp / "run"))


def run_with(name: str, edit: Callable[[str], str]) -> Callable[[Path, dict], None]:
    """A copy of the finished run with file ``name`` rewritten by ``edit``."""

    def setup(tmp: Path, w: dict[str, Path]) -> None:
        path = _copy_run(tmp, w) / name
        path.write_text(edit(path.read_text()))

    return setup


def dataset_with(manifest: str | None) -> Callable[[Path, dict], None]:
    """A copy of the dataset whose manifest.json holds ``manifest`` (None: removed)."""

    def setup(tmp: Path, w: dict[str, Path]) -> None:
        ds = Path(shutil.copytree(w["ds"], tmp / "ds"))
        (ds / "manifest.json").unlink()
        if manifest is not None:
            (ds / "manifest.json").write_text(manifest)

    return setup


def _fill(text: str, tmp: Path, w: dict[str, Path]) -> str:
    """``text`` with ``{tmp}`` and ``{<world name>}`` replaced (TOML braces stay as they are)."""
    for name, path in {**w, "tmp": tmp}.items():
        text = text.replace("{" + name + "}", str(path))
    return text


def toml(text: str) -> Callable[[Path, dict], None]:
    """``tmp/case.toml`` holding ``text`` (formatted with the world's paths)."""

    def setup(tmp: Path, w: dict[str, Path]) -> None:
        (tmp / "case.toml").write_text(_fill(text, tmp, w))

    return setup


def campaign_with(old: str, new: str) -> Callable[[Path, dict], None]:
    def setup(tmp: Path, w: dict[str, Path]) -> None:
        text = w["campaign_toml"].read_text()
        assert old in text
        (tmp / "case.toml").write_text(text.replace(old, _fill(new, tmp, w)))

    return setup


def parsl_file(body: str) -> Callable[[Path, dict], None]:
    def setup(tmp: Path, w: dict[str, Path]) -> None:
        (tmp / "profile.py").write_text(body)

    return setup


def model_meta(text: str) -> Callable[[Path, dict], None]:
    """A models root with one seed whose ``<model>.json`` holds ``text``."""

    def setup(tmp: Path, w: dict[str, Path]) -> None:
        seed = tmp / "models" / "gap" / "Full" / "seed0"
        seed.mkdir(parents=True)
        (seed / "gap.xml").write_text("<GAP/>\n")
        (seed / "gap.xml.json").write_text(text)

    return setup


def npt_with_short_thermo(tmp: Path, w: dict[str, Path]) -> None:
    """The finished run as an NPT run (density from thermo.csv) whose thermo.csv is cut."""
    run_with("result.json", lambda t: t.replace('"nvt"', '"npt"'))(tmp, w)
    thermo = tmp / "run" / "thermo.csv"
    thermo.write_text("".join(thermo.read_text().splitlines(True)[:5]))


def finished_here(tmp: Path, w: dict[str, Path]) -> None:
    _copy_run(tmp, w)


@dataclass(frozen=True)
class Case:
    """One bad command: its arguments (``{tmp}`` and world paths filled in) and its error."""

    id: str
    argv: str
    match: str
    setup: Callable[[Path, dict], None] | None = None
    code: int = 2
    rerun: str | None = None  # the corrected command, which must then succeed
    keep: tuple[str, ...] = field(default=())  # paths the case made itself (not leftovers)


CASES = [
    # xfer md: options, sizes, lengths, the run directory
    Case("md-out-is-file", "md --out {a_file} " + " ".join(FINISHED), r"existing file"),
    Case("md-out-under-file", "md --out {a_file}/sub " + " ".join(FINISHED), r"a_file.*Not a dir"),
    Case("md-time-beyond-lammps", "md --out {tmp}/r --mix EC:1 --time-ps 1e12", r"at most \d+ st"),
    Case("md-time-limit", "md --out {tmp}/r --mix EC:1 --time-ps 1e5", r"limit.*--force"),
    Case("md-huge-mix", "md --out {tmp}/r --mix EC:100000,EMC:200000", r"atoms, more than"),
    Case("md-unknown-molecule", "md --out {tmp}/r --mix Xe:1", r"unknown molecule 'Xe'"),
    Case("md-negative-count", "md --out {tmp}/r --mix EC:-1", r"bad mixture entry"),
    Case("md-bad-ensemble", "md --out {tmp}/r --mix EC:1 --ensemble foo", r"ensemble"),
    Case("md-negative-time", "md --out {tmp}/r --mix EC:1 --time-ps -1", r"time_ps"),
    Case("md-zero-density", "md --out {tmp}/r --mix EC:1 --density 0", r"density"),
    Case("md-zero-dump-every", "md --out {tmp}/r --mix EC:1 --dump-every 0", r"dump_every"),
    Case("md-missing-data", "md --out {tmp}/r --data {tmp}/none.data", r"not found"),
    Case("md-garbage-data", "md --out {tmp}/r --data {not_toml}", r"no Atoms section"),
    Case("md-ml-without-model", "md --out {tmp}/r --mix EC:1 --potential ml", r"--model"),
    Case(
        "md-missing-model",
        "md --out {tmp}/r --mix EC:1 --potential ml --model {tmp}/m",
        r"does not",
    ),
    Case("md-unknown-option", "md --out {tmp}/r --mix EC:1 --bogus", r"No such option: --bogus"),
    Case("md-missing-out", "md --mix EC:1", r"Missing option '--out'"),
    Case(
        "md-different-finished-run",
        "md --out {tmp}/run " + " ".join(TINY_MD) + " --time-ps 0.04",
        r"finished run with other settings \(time_ps: 0.02 -> 0.04",
        setup=finished_here,
        rerun="md --out {tmp}/run " + " ".join(FINISHED),
        keep=("run",),
    ),
    Case(
        "md-truncated-result",
        "md --out {tmp}/run " + " ".join(FINISHED),
        r"run/result.json is not valid JSON.*--force",
        setup=run_with("result.json", lambda t: t[:60]),
        keep=("run",),
    ),
    Case(
        "md-result-is-a-list",
        "md --out {tmp}/run " + " ".join(FINISHED),
        r"holds a JSON array, not the expected object",
        setup=run_with("result.json", lambda t: "[1, 2]\n"),
        keep=("run",),
    ),
    # xfer analyze: broken run directories
    Case("analyze-not-a-run", "analyze {tmp}", r"has no result.json"),
    Case(
        "analyze-truncated-result",
        "analyze {tmp}/run",
        r"not valid JSON",
        run_with("result.json", lambda t: t[: len(t) // 2]),
    ),
    Case(
        "analyze-result-missing-field",
        "analyze {tmp}/run",
        r"n_steps_done",
        run_with("result.json", lambda t: t.replace('"n_steps_done"', '"n_steps_gone"')),
    ),
    Case(
        "analyze-garbage-in-dump",
        "analyze {tmp}/run",
        r"traj.dump: non-numeric .* corrupt",
        run_with("traj.dump", lambda t: t.replace("\n1 1 ", "\ngarbage here ", 1)),
    ),
    Case(
        "analyze-garbage-dump-header",
        "analyze {tmp}/run",
        r"traj.dump: frame 0 has malformed header",
        run_with("traj.dump", lambda t: t.replace("\n0\n", "\nzero\n", 1)),
    ),
    Case(
        "analyze-truncated-dump",
        "analyze {tmp}/run",
        r"traj.dump is truncated: 3 complete frames and a cut-off frame, .*every 4 \(11\)",
        run_with("traj.dump", lambda t: t[: int(len(t) * 0.3)]),
    ),
    Case(
        "analyze-truncated-thermo",
        "analyze {tmp}/run",
        r"thermo.csv is truncated: 4 rows, .* one every 2 \(21\)",
        npt_with_short_thermo,
    ),
    Case(
        "analyze-empty-dump",
        "analyze {tmp}/run",
        r"not a LAMMPS dump",
        run_with("traj.dump", lambda t: ""),
    ),
    Case(
        "analyze-garbage-data",
        "analyze {tmp}/run",
        r"system.data",
        run_with("system.data", lambda t: "garbage\n"),
    ),
    Case("analyze-missing-settings", "analyze {run} --settings {tmp}/none.toml", r"none.toml"),
    # xfer dataset build / info / recipe
    Case("build-missing-config", "dataset build {tmp}/none.toml --out {tmp}/ds", r"no such file"),
    Case("build-invalid-toml", "dataset build {not_toml} --out {tmp}/ds", r"invalid TOML"),
    Case(
        "build-unknown-key",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"bogus",
        toml("[e0]\nelements = ['H']\nbogus = 1\n"),
    ),
    Case(
        "build-missing-import",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"none.xyz: no such file",
        toml(_import_toml("{base}/none.xyz")),
    ),
    Case(
        "build-unlabelled-import",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"1 of 1 frames rejected: frame 0: missing energy",
        toml(_import_toml("{unlabelled_xyz}")),
    ),
    Case(
        "build-element-outside-config",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"element\(s\) Xe appear in no other part .*\[e0\] elements",
        toml(_import_toml("{xenon_xyz}")),
        rerun="dataset build {build_toml} --out {tmp}/ds",
    ),
    Case(
        "build-unknown-molecule",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"unknown molecule 'XY'",
        toml(
            "[opls]\nmix = {XY = 2}\n"
            "[[opls.runs]]\nensemble = 'nvt'\ntemperature = 300\nframes = 1\n"
        ),
    ),
    Case(
        "build-missing-vs-source",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"vs source .*none.xyz does not exist",
        toml("[vs]\nsource = 'none.xyz'\nscans = 1\n"),
    ),
    Case(
        "build-not-an-element",
        "dataset build {tmp}/case.toml --out {tmp}/ds",
        r"Qq are not chemical elements",
        toml(_import_toml("{water_xyz}", e0='["H", "O", "Qq"]')),
    ),
    Case(
        "build-bad-workers",
        "dataset build {build_toml} --out {tmp}/ds --workers many",
        r"--workers must be a number",
    ),
    Case(
        "build-negative-workers",
        "dataset build {build_toml} --out {tmp}/ds --workers -1",
        r"workers must be >= 1",
        rerun="dataset build {build_toml} --out {tmp}/ds",
    ),
    Case("build-out-is-file", "dataset build {build_toml} --out {a_file}", r"existing file"),
    Case("info-not-a-dataset", "dataset info {tmp}", r"is not a dataset"),
    Case(
        "info-manifest-truncated", "dataset info {tmp}/ds", r"not valid JSON", dataset_with('{"fo')
    ),
    Case(
        "info-manifest-empty", "dataset info {tmp}/ds", r"manifest.json is empty", dataset_with("")
    ),
    Case(
        "info-manifest-is-list",
        "dataset info {tmp}/ds",
        r"holds a JSON array",
        dataset_with("[]"),
    ),
    Case(
        "info-manifest-without-files",
        "dataset info {tmp}/ds",
        r"'files' is missing, not a JSON object",
        dataset_with('{"format": "xfer-dataset/1", "total_frames": 2}'),
    ),
    Case(
        "recipe-files-is-list",
        "dataset recipe {tmp}/ds Full --out {tmp}/t.xyz",
        r"'files' is a list",
        dataset_with('{"format": "xfer-dataset/1", "total_frames": 2, "files": []}'),
    ),
    Case(
        "recipe-out-under-file",
        "dataset recipe {ds} Full --out {a_file}/t.xyz",
        r"a_file.*(Not a directory|File exists)",
    ),
    Case(
        "info-png-under-file",
        "dataset info {ds} --png {a_file}/h.png",
        r"a_file.*(Not a directory|File exists)",
    ),
    Case("recipe-unknown", "dataset recipe {ds} NoSuch --out {tmp}/t.xyz", r"NoSuch"),
    # xfer train / export / models
    Case(
        "train-gap-unlabelled",
        "train --arch gap --recipe R --train {ref_unlabelled_xyz} --seeds 0 --out {tmp}/m",
        r"1 of 1 frames lack REF_energy/REF_forces labels",
    ),
    Case(
        "train-missing-file",
        "train --arch mace --recipe R --train {tmp}/none.xyz --out {tmp}/m",
        r"does not exist",
    ),
    Case("train-unknown-arch", "train --arch foo --recipe R --train {ref_xyz}", r"unknown arch"),
    Case("train-bad-seeds", "train --arch gap --recipe R --train {ref_xyz} --seeds 3-1", r"seed"),
    Case(
        "train-unknown-hyper",
        "train --arch gap --recipe R --train {ref_xyz} --seeds 0 --set nope=1 --out {tmp}/m",
        r"unknown gap hyperparameter\(s\) nope",
    ),
    Case(
        "train-missing-hyper-file",
        "train --arch gap --recipe R --train {ref_xyz} --hyper {tmp}/h.toml --out {tmp}/m",
        r"cannot read hyperparameters",
    ),
    Case("models-missing-root", "models list {tmp}/none", r"is not a directory"),
    Case(
        "models-only-corrupt",
        "models list {tmp}/models",
        r"no trained models",
        model_meta('{"arch": "gap", '),
    ),
    Case(
        "export-corrupt-meta",
        "export {tmp}/models/gap/Full/seed0",
        r"gap.xml.json is not valid JSON.*retrain",
        model_meta('{"arch": "gap", '),
    ),
    # xfer campaign
    Case("campaign-missing-file", "campaign run {tmp}/none.toml --dry-run", r"no such campaign"),
    Case("campaign-invalid-toml", "campaign status {not_toml}", r"invalid TOML"),
    Case("campaign-negative-workers", "campaign run {campaign_toml} --workers -1", r"--workers"),
    Case(
        "campaign-dry-run-missing-dataset",
        "campaign run {tmp}/case.toml --dry-run",
        r"nodata is not a dataset",
        campaign_with('path = "', 'path = "{base}/nodata" #'),
    ),
    Case(
        "campaign-dry-run-unknown-profile",
        "campaign run {campaign_toml} --dry-run --parsl nope",
        r"unknown execution profile 'nope'",
    ),
    Case(
        "campaign-dry-run-broken-profile",
        "campaign run {campaign_toml} --dry-run --parsl {tmp}/profile.py",
        r"make_config failed \(RuntimeError: no partition gpu\)",
        parsl_file(
            "def make_config(run_dir, workers=None):\n    raise RuntimeError('no partition gpu')\n"
        ),
    ),
    Case(
        "campaign-dry-run-profile-syntax",
        "campaign run {campaign_toml} --dry-run --parsl {tmp}/profile.py",
        r"profile.py failed to load: SyntaxError",
        parsl_file("def make_config(:\n"),
    ),
]


def _blocking_leftovers(out: Path) -> list[str]:
    return [name for name in BLOCKING if (out / name).exists()]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_error_line(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XFER_LOG", str(tmp_path / "xfer.log"))
    monkeypatch.chdir(tmp_path)
    if case.setup is not None:
        case.setup(tmp_path, world)
    before = set(tmp_path.iterdir())
    argv = _fill(case.argv, tmp_path, world).split()
    code = main(argv)  # an exception escaping here (a traceback for the user) fails the case
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert code == case.code, err
    assert len(errors) == 1, err
    assert "Traceback" not in err
    assert re.search(case.match, errors[0]), errors[0]
    for new in set(tmp_path.iterdir()) - before - {tmp_path / "xfer.log"}:
        assert new.name in case.keep or not _blocking_leftovers(new), new
        assert new.is_dir() or new.name in case.keep, f"{new} left behind"
    if case.rerun:
        assert main(_fill(case.rerun, tmp_path, world).split()) == 0, capsys.readouterr()


def test_one_bad_model_metadata_does_not_hide_the_others(world, tmp_path, capsys):
    model_meta('{"arch": "gap", ')(tmp_path, world)
    good = tmp_path / "models" / "gap" / "Full" / "seed1"
    good.mkdir()
    (good / "gap.xml").write_text("<GAP/>\n")
    (good / "gap.xml.json").write_text(json.dumps({"arch": "gap", "recipe": "Full", "seed": 1}))
    assert main(["models", "list", str(tmp_path / "models")]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "seed0/gap.xml.json is not valid JSON" in warnings[0]
    assert "seed1" in captured.out and "seed0" not in captured.out


def test_failed_build_leaves_nothing_and_the_corrected_build_runs(world, tmp_path):
    """A build refused by validation writes nothing, so the same --out takes the fix."""
    bad = tmp_path / "bad.toml"
    bad.write_text(_import_toml(str(world["xenon_xyz"])))
    assert main(["dataset", "build", str(bad), "--out", str(tmp_path / "ds")]) == 2
    assert not (tmp_path / "ds").exists()
    assert main(["dataset", "build", str(world["build_toml"]), "--out", str(tmp_path / "ds")]) == 0
    assert (tmp_path / "ds" / "manifest.json").is_file()


# --- real subprocesses: signals and the warnings log ----------------------------------


_STARTED: list[subprocess.Popen] = []


def _xfer(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kwargs.pop("env", {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "xfer.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own group: a failed test can end it and its workers
        **kwargs,
    )
    _STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _end_stragglers():
    """A failing test must not leave an xfer process (or its labelling pool) running."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for_md(run: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until LAMMPS has written a few thermo rows (the MD loop is running)."""
    thermo = run / "thermo.csv"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if thermo.exists() and len(thermo.read_text().splitlines()) > 2:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.kill()
    pytest.fail("MD did not start")


@pytest.mark.parametrize(
    ("signum", "code", "what"),
    [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
def test_signal_during_md_exits_with_one_line_and_the_run_resumes(tmp_path, signum, code, what):
    run = tmp_path / "run"
    argv = ["md", "--out", str(run), *TINY_MD, "--time-ps", "5", "--thermo-every", "100"]
    proc = _xfer(*argv)
    _wait_for_md(run, proc)
    sent = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    stopped_s = time.monotonic() - sent
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == code, err
    assert len(lines) == 1 and lines[0].startswith(f"{what}: xfer md --out {run}"), err
    assert "run the same command again to resume" in lines[0]
    assert stopped_s < 20, f"LAMMPS took {stopped_s:.1f} s to stop"
    assert not (run / "result.json").exists()
    if signum == signal.SIGINT:  # the same command then finishes the run
        rerun = _xfer(*argv)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        result = json.loads((run / "result.json").read_text())
        assert result["n_steps_done"] == result["n_steps_requested"] == 10000


NOISY_PROFILE = """
import warnings
from parsl.config import Config
from parsl.executors import ThreadPoolExecutor

def make_config(run_dir, workers=None):
    warnings.warn("third-party noise from a library", UserWarning)
    return Config(executors=[ThreadPoolExecutor(label="threads")], run_dir=str(run_dir))
"""


def test_third_party_warnings_go_to_the_log_unless_verbose(world, tmp_path):
    profile = tmp_path / "noisy.py"
    profile.write_text(NOISY_PROFILE)
    log = tmp_path / "xfer.log"
    argv = ["campaign", "run", str(world["campaign_toml"]), "--dry-run", "--parsl", str(profile)]
    quiet = _xfer(*argv, env={"XFER_LOG": str(log)})
    _, err = quiet.communicate(timeout=120)
    assert quiet.returncode == 0, err
    assert "third-party noise" not in err
    assert "third-party noise from a library" in log.read_text()
    loud = _xfer("--verbose", *argv, env={"XFER_LOG": str(tmp_path / "other.log")})
    _, err = loud.communicate(timeout=120)
    assert loud.returncode == 0 and "third-party noise from a library" in err


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_sigterm_during_parallel_labelling_stops_the_workers_too(tmp_path):
    """Only the main process gets the signal (as from a scheduler); its pool must not finish."""
    config = tmp_path / "label.toml"
    config.write_text(
        "[labelling]\nworkers = 2\n[vs]\nsource = 'packed'\nscans = 1\npoints = 4\n"
        "mix = {EC = 4, EMC = 8}\n"
    )
    out = tmp_path / "ds"
    proc = _xfer("dataset", "build", str(config), "--out", str(out), "--no-progress")
    log = out / "work" / "vs.labels.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and len(_children(proc.pid)) >= 3):  # tracker + 2 workers
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    workers = [pid for pid in _children(proc.pid) if b"spawn_main" in _cmdline(pid)]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert [line for line in err.splitlines() if line.strip()][-1].startswith("terminated")
    time.sleep(1)
    alive = [pid for pid in workers if b"spawn_main" in _cmdline(pid)]
    assert not alive, f"labelling workers {alive} outlived the build"
    assert not log.read_text(), "no frame can have finished in this time"


def test_ctrl_c_stops_a_running_campaign_and_its_tasks_count_as_interrupted(world, tmp_path):
    out = tmp_path / "campaign"
    proc = _xfer("campaign", "run", str(world["campaign_toml"]), "--out", str(out))
    deadline = time.monotonic() + 120
    while not (attempts := list(out.glob("tasks/md/*/attempt-1/run/thermo.csv"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 20, "the campaign waited for its running tasks"
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("interrupted (Ctrl-C): xfer campaign run"), err
    task = attempts[0].parents[2]
    assert not (task / "done.json").exists() and not (task / "failed.json").exists()
