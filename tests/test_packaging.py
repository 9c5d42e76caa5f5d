"""xfer as an installed package: a wheel carries its templates, profiles and presets.

The wheel is built from a copy of this checkout (tracked and untracked-but-not-ignored
files), installed with ``--no-deps`` into a fresh virtual environment that sees the pinned
stack through a ``.pth`` path entry (plain paths: the stack's own ``.pth`` hooks, such
as an editable xfer, are not run), and ``xfer md --potential opls`` runs a few steps from
a directory outside the checkout with no PYTHONPATH. Anything read through ``parents[N]``
of a module file instead of the package would fail here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _copy_checkout(dest: Path) -> None:
    """The files git would commit (tracked, or untracked and not ignored) under ``dest``."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    archive = dest.with_suffix(".tar")
    with tarfile.open(archive, "w") as tar:
        for name in filter(None, listing):
            if (ROOT / name).is_file():
                tar.add(ROOT / name, arcname=name)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    tail = f"{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{command[:3]} failed:\n{tail}"
    return proc


@pytest.mark.slow
@pytest.mark.ci  # ~65 s on 2 busy cores: build, venv, install, 10 MD steps
def test_wheel_in_a_fresh_venv_runs_opls_md_outside_the_checkout(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout of xfer to build the wheel from")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XFER_TEMPLATES")}
    source = tmp_path / "src"
    _copy_checkout(source)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
          str(source)], tmp_path, env)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("xfer-*.whl")

    fresh = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], tmp_path, env)
    python = fresh / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                tmp_path, env).stdout.strip()  # fmt: skip
    stack = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "pinned-stack.pth").write_text("\n".join(sorted(stack)) + "\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
         tmp_path, env)  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(python), "-c", "import xfer; print(xfer.__file__)"], elsewhere, env)
    assert Path(where.stdout.strip()).is_relative_to(fresh), where.stdout
    _run([str(fresh / "bin" / "xfer"), "md", "--potential", "opls", "--mix", "EC:2,EMC:2",
          "--density", "0.9", "--time-ps", "0.005", "--thermo-every", "5", "--dump-every", "5",
          "--out", "run"], elsewhere, env)  # fmt: skip
    result = json.loads((elsewhere / "run" / "result.json").read_text())
    assert result["potential"] == "opls" and result["pair_style"] == "lj/charmm/coul/long"
    assert result["n_steps_done"] == result["n_steps_requested"] == 10
    assert "pair_style      lj/charmm/coul/long" in (elsewhere / "run" / "in.lammps").read_text()

    presets = _run([str(python), "-c", "from xfer.backends.base import preset_names as p; "
                    "print(p('mace'), p('gap'))"], elsewhere, env)  # fmt: skip
    assert presets.stdout.split() == ["['tiny',", "'paper',", "'finetune']", "['tiny',", "'paper']"]
    profiles = _run([str(python), "-c", "from xfer.workflow.execution import profile_names; "
                     "print(*profile_names())"], elsewhere, env)  # fmt: skip
    assert {"local", "local-threads", "slurm-gpu", "pbs"} <= set(profiles.stdout.split())
