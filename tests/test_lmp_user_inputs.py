"""``xfer lmp`` runs a LAMMPS input the user wrote by hand with ``pair_style mace``,
``deepmd`` or ``quip`` (no xfer template, no preloads set by the user), on 1 and 2 ranks;
``xfer env`` prints the shell lines that let a plain ``lmp`` do the same.

Each input computes the energy of one EC+EMC box (written by ASE, not xfer) and runs a few
NVE steps; the energy must be the model's own calculator's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import write
from fixtures.structures import molecular_box

from xfer.backends import get_backend
from xfer.runtime import THREAD_VARIABLES
from xfer.training import export_model

pytest_plugins = ["fixtures.mace"]
CI = [pytest.mark.slow, pytest.mark.ci]
ELEMENTS = ("H", "C", "O")

USER_INPUT = """# my own input, written by hand
units           metal
atom_style      atomic
boundary        p p p
read_data       box.data
{pair_lines}
neighbor        1.0 bin
run             0
print           "MY_ENERGY $(pe:%.10f)"
velocity        all create 300 7
fix             nve all nve
thermo          1
run             4
"""


def _box():
    return molecular_box(["EC", "EMC"], np.diag([9.0, 9.0, 9.0]), seed=5)


def _pair_lines(arch: str, model_path: Path) -> str:
    """What a user types from ``xfer export``'s output (the exported model file)."""
    exported, _ = export_model(model_path)
    if arch == "mace":
        return f"pair_style mace\npair_coeff * * {exported} H C O"
    if arch == "deepmd":
        return f"pair_style deepmd {exported}\npair_coeff * * H C O"
    return f'pair_style quip\npair_coeff * * {exported} "IP GAP" H C O'


def _write_case(tmp: Path, arch: str, model_path: Path) -> Path:
    write(tmp / "box.data", _box(), format="lammps-data", specorder=list(ELEMENTS),
          masses=True)  # fmt: skip
    (tmp / "in.user").write_text(USER_INPUT.format(pair_lines=_pair_lines(arch, model_path)))
    return tmp


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: none of the variables xfer sets for lmp."""
    drop = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LAMMPS_PLUGIN_PATH", *THREAD_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["XFER_THREADS"] = "1"
    return env


def _energy(output: str) -> float:
    found = re.findall(r"^MY_ENERGY (\S+)", output, re.M)
    assert found, output[-2000:]
    return float(found[-1])


def _reference(arch: str, model_path: Path) -> float:
    atoms = _box()
    atoms.calc = get_backend(arch).calculator(get_backend(arch).load(model_path))
    return float(atoms.get_potential_energy())


def _model(arch: str, request) -> Path:
    if arch == "mace":
        return request.getfixturevalue("mace_committee")[0].path
    if arch == "deepmd":
        return request.getfixturevalue("deepmd_model").path
    return request.getfixturevalue("gap_model").path


@pytest.mark.parametrize(("arch", "nprocs"), [
    pytest.param("mace", 1, marks=pytest.mark.slow),
    pytest.param("deepmd", 1, marks=pytest.mark.slow),
    pytest.param("gap", 1, marks=pytest.mark.slow), pytest.param("deepmd", 2, marks=CI),
    pytest.param("gap", 2, marks=pytest.mark.slow),
])  # fmt: skip
def test_xfer_lmp_runs_a_user_input(arch, nprocs, request, tmp_path):
    model = _model(arch, request)
    work = _write_case(tmp_path, arch, model)
    command = [sys.executable, "-m", "xfer.cli", "lmp", "--nprocs", str(nprocs),
               "-in", "in.user", "-log", "log.user"]  # fmt: skip
    proc = subprocess.run(command, cwd=work, env=_clean_env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    log = (work / "log.user").read_text()
    assert f"on {nprocs} procs for 4 steps" in log
    assert _energy(log) == pytest.approx(_reference(arch, model), abs=1e-6 * len(_box()))


@pytest.mark.slow
@pytest.mark.ci
def test_xfer_env_sets_up_a_plain_lmp(mace_committee, tmp_path):
    """``eval "$(xfer env)"`` then the plain ``lmp`` of the environment runs pair mace."""
    model = mace_committee[0].path
    work = _write_case(tmp_path, "mace", model)
    xfer = f"{sys.executable} -m xfer.cli"
    script = f'eval "$({xfer} env --threads 1)" && lmp -in in.user -log log.user'
    proc = subprocess.run(["bash", "-c", script], cwd=work, env=_clean_env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    log = (work / "log.user").read_text()
    assert "1 by 1 by 1 MPI processor grid" in log
    assert _energy(log) == pytest.approx(_reference("mace", model), abs=1e-6 * len(_box()))


def test_xfer_env_prints_export_lines():
    proc = subprocess.run([sys.executable, "-m", "xfer.cli", "env", "--threads", "3"],
                          env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines())
    assert lines["OMP_NUM_THREADS"] == "3"
    assert "libtorch.so" in lines["LD_PRELOAD"]
    plugins = lines["LAMMPS_PLUGIN_PATH"].split(":")[0]
    assert any(Path(plugins).glob("*plugin.so"))
    assert (Path(lines["LD_LIBRARY_PATH"].split(":")[0]) / "libmpi.so.12").exists()


def _dgemm_bindings(log_dir: Path) -> dict[str, str]:
    """library -> the library its ``dgemm_`` was bound to, from LD_DEBUG=bindings logs."""
    targets = {}
    for log in log_dir.glob("ld.*"):
        for line in log.read_text(errors="replace").splitlines():
            if "normal symbol `dgemm_'" in line:
                source, target = re.findall(r"(?:file|to) (\S+) \[", line)
                targets[Path(source).name] = Path(target).name
    return targets


def test_lmp_gives_torch_mkl_blas_not_the_wheels_reference_dgemm(tmp_path):
    """liblammps.so exports an unoptimised reference ``dgemm_``; in the ``lmp`` executable's
    symbol scope it would serve torch's matrix products (MACE 2-3x slower). With xfer's
    environment every ``dgemm_`` binding, torch's own included, goes to torch's MKL."""
    from xfer.lammps.lmp import lmp_command
    from xfer.runtime import lmp_variables

    env = {**_clean_env(), **lmp_variables(), "LD_BIND_NOW": "1", "LD_DEBUG": "bindings",
           "LD_DEBUG_OUTPUT": str(tmp_path / "ld")}  # fmt: skip
    subprocess.run(lmp_command(["-log", "none"]), input="", env=env, cwd=tmp_path,
                   capture_output=True, timeout=120, text=True)  # fmt: skip
    targets = _dgemm_bindings(tmp_path)
    assert targets.get("libtorch_cpu.so") == "libtorch_cpu.so", targets
    assert "liblammps.so.0" not in targets.values(), targets


def test_in_process_lammps_gives_torch_its_own_dgemm(tmp_path):
    """The same for LAMMPS inside a Python process (a campaign's md task): liblammps.so
    loaded first used to take torch's ``dgemm_`` (MACE md tasks 2x slower per step);
    :func:`xfer.lammps.instance.new_lammps` loads torch's libraries ahead of it."""
    script = (
        "import xfer\nfrom xfer.lammps.instance import new_lammps\n"
        "new_lammps(['-log', 'none', '-screen', 'none'], deepmd=False).close()\n"
    )
    env = {**_clean_env(), "LD_BIND_NOW": "1", "LD_DEBUG": "bindings",
           "LD_DEBUG_OUTPUT": str(tmp_path / "ld")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                          capture_output=True, timeout=120, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    targets = _dgemm_bindings(tmp_path)
    assert targets.get("libtorch_cpu.so") == "libtorch_cpu.so", targets
    assert "liblammps.so.0" not in targets.values(), targets
