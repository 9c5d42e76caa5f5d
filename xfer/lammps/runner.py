"""Execute a rendered LAMMPS input in this process and classify how the run ended."""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass
from typing import Any

from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.committee import ENGINE_FIX, CommitteeRun
from xfer.lammps.instance import new_lammps
from xfer.lammps.interrupt import stop_on_signal
from xfer.lammps.templates import render
from xfer.runtime import mpi_world

# LAMMPS error messages that mean "the simulation became unstable", not "bad input".
UNSTABLE_ERRORS = (
    (re.compile(r"Lost atoms", re.I), "lost_atoms"),
    (re.compile(r"Bond atoms? missing|Bond length [<>] table", re.I), "bond"),
    (re.compile(r"Non-numeric|NaN|not a number", re.I), "nan"),
    (re.compile(r"Out of range atoms", re.I), "lost_atoms"),
)


@dataclass
class RunOutcome:
    """How a run ended: steps done, halt reason (None if it completed) and details."""

    n_steps_done: int
    halt_reason: str | None
    halt_detail: dict[str, Any] | None
    lammps_version: str


class LammpsRun:
    """One LAMMPS instance in this process, checked for the plugins a run needs.

    ``$XFER_LAMMPS_ARGS`` adds command-line switches, e.g. ``-k on g 1 -sf kk -pk kokkos
    newton on neigh half`` for a site's LAMMPS built with Kokkos/CUDA.
    """

    def __init__(self, plugins_needed: list[str] | None = None) -> None:
        extra = shlex.split(os.environ.get("XFER_LAMMPS_ARGS", ""))  # e.g. -k on g 1 -sf kk
        cmdargs = ["-log", "log.lammps", "-screen", "none", "-nocite", *extra]
        needed = plugins_needed or []
        self.lmp = new_lammps(cmdargs, mpi_world(), deepmd="deepmd" in needed)  # every rank
        for style in needed:
            if not self.lmp.has_style("pair", style):
                raise EnvironmentProblem(
                    f"LAMMPS has no pair style {style!r}: its plugin was not found on "
                    "LAMMPS_PLUGIN_PATH (run scripts/build_plugins.sh or `make bootstrap`)"
                )

    @property
    def version(self) -> str:
        return str(self.lmp.version())

    @property
    def nprocs(self) -> int:
        """MPI ranks this LAMMPS instance runs on."""
        return int(self.lmp.extract_setting("world_size"))

    def execute(
        self,
        input_file: str,
        n_steps: int,
        bond_types: list[dict],
        elements: list[str],
        committee: CommitteeRun | None = None,
    ) -> RunOutcome:
        """Run ``input_file``; map halts and instability errors to a :class:`RunOutcome`.

        A file-mode ``committee`` (deepmd) runs the MD itself, in chunks, after the input.
        """
        try:
            with stop_on_signal(self.lmp.force_timeout):
                self.lmp.file(input_file)
                if committee is not None and not committee.engine:
                    committee.run_chunks(self.lmp, n_steps)
        except Exception as exc:  # LAMMPS reports every error as a plain Exception
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
            steps = int(self.lmp.extract_global("ntimestep") or 0)
            for pattern, reason in UNSTABLE_ERRORS:
                if pattern.search(message) and steps > 0:
                    return RunOutcome(steps, reason, {"message": message}, self.version)
            raise InputError(f"LAMMPS stopped with an error: {message}") from None
        steps = int(self.lmp.extract_global("ntimestep"))
        pe = self.lmp.get_thermo("pe")
        if steps >= n_steps:
            if not math.isfinite(pe):
                return RunOutcome(steps, "nan", {"pe": str(pe)}, self.version)
            return RunOutcome(steps, None, None, self.version)
        reason, detail = self._halt_detail(bond_types, committee)
        self._write_last_frame(elements, committee)
        return RunOutcome(steps, reason, detail, self.version)

    def _halt_detail(
        self, bond_types: list[dict], committee: CommitteeRun | None
    ) -> tuple[str, dict[str, Any]]:
        """Which condition fired, from the halt variables of lmp_templates/halts.lmp.j2
        (and the committee's deviation)."""
        if not math.isfinite(self.lmp.get_thermo("pe")):
            return "nan", {"pe": "nan"}
        if committee is not None and (detail := committee.uncertainty(self.lmp)) is not None:
            return "uncertainty", detail
        if self.lmp.extract_variable("bond_broken") > 0.5:
            worst = [self.lmp.numpy.extract_compute("bondworst", 0, 1)[k] for k in range(5)]
            btype = int(worst[4])
            row = next((b for b in bond_types if b["id"] == btype), {})
            return "bond", {
                "atom_ids": [int(worst[2]), int(worst[3])],
                "length_A": float(worst[1]),
                "bond_type": row.get("label"),
                "r0_A": row.get("r0"),
                "threshold_A": row.get("threshold"),
            }
        rho = self.lmp.get_thermo("density")
        return "density", {"density_g_cm3": float(rho)}

    def _write_last_frame(self, elements: list[str], committee: CommitteeRun | None) -> None:
        engine = committee is not None and committee.engine
        self.lmp.commands_string(render(
            "last_frame.lmp.j2", elements=elements,
            extra_columns=f" f_{ENGINE_FIX}" if engine else "",
            extra_modify=f" colname f_{ENGINE_FIX} devi_f" if engine else "",
        ))  # fmt: skip
