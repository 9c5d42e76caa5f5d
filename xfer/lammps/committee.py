"""Committee deviation during an MD run: model_devi.csv, per-atom devi_f and the uncertainty halt.

Every committee pair style writes deepmd-kit's ``model_devi.out`` columns every
``deviation_every`` steps. Two ways to stop on it inside the running LAMMPS process:

* engine (xfer's ``pair mace`` / ``pair quip``): ``compute pair`` gives max_devi_f to
  ``fix halt`` and ``fix pair`` keeps per-atom devi_f (``lmp_templates/committee.lmp.j2``);
  the run halts on the first deviation step above the threshold.
* file (deepmd-kit's ``pair deepmd``, which exposes nothing to LAMMPS): the run goes in
  chunks that end one step after a deviation step (a chunk ending on it would make
  deepmd evaluate every member twice there), each as many deviation intervals long as
  fit in ``check_every``, and its file is read between chunks; the run halts at most
  ``check_every`` steps after the first deviation step above the threshold (one step
  after it when the interval is ``check_every``). Its per-atom
  rows (``atomic``) are consumed as they come and merged into the dumps afterwards.

Resuming a killed run (:meth:`CommitteeRun.start`): the pair style rewrites its file from
scratch in every LAMMPS process, and a file-mode run gives back the space of the rows it
has read, so the rows consumed so far (with the per-atom rows the dumps need) are also
appended to ``model_devi.kept``. A resumed run keeps the rows of both files up to its
checkpoint step and continues; ``model_devi.csv`` then holds every deviation step once.

On several MPI ranks only the leader (rank 0) reads the file; what it decides (the halt
step) is broadcast, so every rank issues the same LAMMPS commands, and per-atom values
are gathered in atom-id order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xfer.atomic import atomic_path, write_text
from xfer.lammps.ranks import is_leader, share

DEVI_FILE = "model_devi.out"  # what the pair style writes (deepmd-kit's columns)
KEPT_FILE = "model_devi.kept"  # rows already read, kept across a kill (same columns)
CSV_FILE = "model_devi.csv"
RAW_COLUMNS = ("max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f")
CSV_COLUMNS = ("step", "max_devi_f", "min_devi_f", "avg_devi_f",
               "max_devi_v", "min_devi_v", "avg_devi_v")  # fmt: skip
ENGINE_FIX = "devi_atom"  # fix pair holding per-atom devi_f (committee.lmp.j2)


@dataclass
class DeviationLog:
    """Rows of the pair style's deviation file, read incrementally (latest row per step)."""

    path: Path
    rows: dict[int, tuple[float, ...]] = field(default_factory=dict)
    per_atom: dict[int, np.ndarray] = field(default_factory=dict)  # step -> devi_f by id - 1
    appending: bool = False  # the writer appends (deepmd after read_restart): reads restart at 0
    _offset: int = 0

    def poll(self) -> list[int]:
        """Read the rows appended since the last poll; return their steps."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        return self._add(data[:end])

    def _add(self, data: bytes) -> list[int]:
        """Parse complete rows (``step`` + 6 columns [+ per-atom values]); their steps."""
        steps = []
        for line in data.decode().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            values = np.array(line.split(), dtype=float)
            step = int(values[0])
            self.rows[step] = tuple(values[1:7])
            if len(values) > 7:  # deepmd's ``atomic`` columns, in atom-id order
                self.per_atom[step] = values[7:]
            steps.append(step)
        return steps

    def restore(self, files: list[Path], upto: int) -> None:
        """The rows of ``files`` (a killed run's) at steps up to ``upto``, as if polled.

        Space a file-mode poll gave back reads as NUL bytes; a torn last row is ignored.
        """
        for path in files:
            if path.is_file():
                data = path.read_bytes().replace(b"\0", b"")
                self._add(data[: data.rfind(b"\n") + 1])
        for step in [s for s in self.rows if s > upto]:
            del self.rows[step]
            self.per_atom.pop(step, None)

    def release(self) -> None:
        """Give back the disk space of the rows read so far (a writer that keeps its offset
        turns the file sparse instead of growing by natoms numbers per row; one that
        appends starts again at byte 0)."""
        if self._offset:
            os.truncate(self.path, 0)
            if self.appending:  # its next row lands at the new end of the file, byte 0
                self._offset = 0

    def write_csv(self, path: Path) -> None:
        """model_devi.csv: one row per deviation step, the issue's column order."""
        lines = [",".join(CSV_COLUMNS)]
        for step in sorted(self.rows):
            row = dict(zip(RAW_COLUMNS, self.rows[step], strict=True))
            lines.append(",".join([str(step), *(f"{row[c]:.10g}" for c in CSV_COLUMNS[1:])]))
        write_text(path, "\n".join(lines) + "\n")


def add_devi_column(dump: Path, per_atom: dict[int, np.ndarray]) -> None:
    """Rewrite a custom dump with a ``devi_f`` column: each frame gets the per-atom
    deviation of the latest deviation step at or before it (values indexed by id - 1)."""
    if not dump.exists() or not per_atom:
        return
    steps = np.array(sorted(per_atom))
    lines = dump.read_text().splitlines()
    out: list[str] = []
    k = 0
    while k < len(lines):
        if lines[k] != "ITEM: TIMESTEP" or k + 9 > len(lines):
            break
        step, n = int(lines[k + 1]), int(lines[k + 3])
        header = lines[k : k + 9]
        columns = header[8].split()[2:]
        index = int(np.searchsorted(steps, step, side="right")) - 1
        values = per_atom[int(steps[max(index, 0)])]
        id_col = columns.index("id")
        out += header[:8] + [header[8] + " devi_f"]
        for line in lines[k + 9 : k + 9 + n]:
            atom_id = int(line.split()[id_col])
            out.append(f"{line} {values[atom_id - 1]:.8g}")
        k += 9 + n
    with atomic_path(dump) as tmp:
        tmp.write_text("\n".join(out) + "\n")


@dataclass
class CommitteeRun:
    """The committee side of one MD run (created by :mod:`xfer.md`)."""

    style: str  # pair style name (compute pair / fix pair refer to it)
    engine: bool  # deviation exposed in-engine (True) or only in the file (deepmd)
    deviation_every: int
    threshold: float | None
    dump_every: int
    elements: list[str]
    log: DeviationLog = field(default_factory=lambda: DeviationLog(Path(DEVI_FILE)))
    halted_at: int | None = None  # deviation step that stopped a file-mode run
    check_every: int | None = None  # steps an uncertainty halt may lag (None: one interval)

    @property
    def kept_file(self) -> Path:
        return self.log.path.with_name(KEPT_FILE)

    def start(self, resume_step: int | None) -> None:
        """Before LAMMPS starts: a fresh run forgets earlier rows; a resumed one keeps those
        up to ``resume_step`` (the kept file is rewritten with them; the pair style then
        writes its file anew). Only the leader rank keeps rows."""
        if not is_leader():
            return
        log = self.log
        if resume_step is not None:
            self.resume(resume_step, [self.kept_file, log.path])
        with atomic_path(self.kept_file) as tmp:
            tmp.write_text(_rows_text(sorted(log.rows), log.rows, log.per_atom))
        log.path.unlink(missing_ok=True)  # only after the kept file holds its rows

    def resume(self, step: int, files: list[Path] | None = None) -> None:
        """Take up a resumed run's rows up to ``step`` from ``files`` (default: the kept
        file :meth:`start` wrote; the engine's own CommitteeRun calls this)."""
        if not is_leader():
            return
        log = self.log
        log.appending = True  # deepmd opens its file in append mode after read_restart
        log.restore(files or [self.kept_file], step)
        for s in [s for s in log.per_atom if not self._dump_needs(s)]:
            del log.per_atom[s]

    def _keep(self, steps: list[int], per_atom: dict[int, np.ndarray]) -> None:
        """Append the rows of ``steps`` (with the per-atom values given) to the kept file."""
        if steps:
            with open(self.kept_file, "a") as fh:
                fh.write(_rows_text(steps, self.log.rows, per_atom))

    def template_vars(self) -> dict[str, Any]:
        return {"style": self.style, "engine": self.engine, "every": self.deviation_every,
                "threshold": self.threshold, "chunked": not self.engine}  # fmt: skip

    def run_chunks(self, lmp: Any, n_steps: int) -> None:
        """File mode: run in chunks to one step past a deviation step, reading the file
        between chunks; a chunk spans as many deviation intervals as fit in
        ``check_every`` (the halt's promise), so checking often costs few chunk set-ups."""
        every = self.deviation_every
        per_chunk = (self.check_every or every) if self.threshold is not None else 1000
        span = every * max(1, per_chunk // every)
        if is_leader():
            for s in self.log.poll():  # rows of a minimisation before the MD are not MD steps
                del self.log.rows[s]
                self.log.per_atom.pop(s, None)
            self.log.release()
        step = int(lmp.extract_global("ntimestep"))
        first = True
        while step < n_steps:
            target = min(n_steps, (step // span + 1) * span + 1)
            lmp.command(f"run {target - step}" + ("" if first else " pre no post no"))
            first = False
            done = int(lmp.extract_global("ntimestep"))
            self._poll()
            if self.halted_at is not None or done < target:  # uncertainty, or a fix halt fired
                return
            step = done

    def _poll(self) -> None:
        if is_leader():
            steps = self.log.poll()
            if self.threshold is not None and self.halted_at is None:
                above = [s for s in sorted(steps) if self.log.rows[s][3] > self.threshold]
                self.halted_at = above[0] if above else None
            keep = {max(self.log.rows, default=None), self.halted_at}
            for s in list(self.log.per_atom):  # only rows a dump frame or the halt will need
                if s not in keep and not self._dump_needs(s):
                    del self.log.per_atom[s]
            needed = {s: a for s, a in self.log.per_atom.items()
                      if s in steps and (s == self.halted_at or self._dump_needs(s))}  # fmt: skip
            self._keep(sorted(set(steps)), needed)  # before release gives the space back
            self.log.release()
        self.halted_at = share(self.halted_at)

    def _dump_needs(self, step: int) -> bool:
        first_dump = -(-step // self.dump_every) * self.dump_every  # first dump at/after step
        return first_dump < step + self.deviation_every

    def uncertainty(self, lmp: Any) -> dict[str, Any] | None:
        """halt_detail if the run stopped on the deviation, else None (on every rank)."""
        step = share(self._halt_step() if is_leader() else None)
        if step is None:
            return None
        if self.engine:  # collective: every rank takes part in the gathers
            values = _by_id(lmp, f"f_{ENGINE_FIX}", 1)
            self.log.per_atom[step] = values
        types = _by_id(lmp, "type", 0)
        if not is_leader():
            return {"step": step}  # the leader's detail is the one recorded
        values = self.log.per_atom[step]
        worst = int(np.argmax(values))
        return {"step": step, "max_devi_f": float(self.log.rows[step][3]),
                "atom_id": worst + 1, "element": self.elements[int(types[worst]) - 1],
                "threshold": self.threshold}  # fmt: skip

    def _halt_step(self) -> int | None:
        """The deviation step the run halted on (leader: read from the file), or None."""
        self.log.poll()
        if self.threshold is None or not self.log.rows:
            return None
        if not self.engine:
            return self.halted_at
        step = max(self.log.rows)
        return step if self.log.rows[step][3] > self.threshold else None

    def finish(self, out_dir: Path) -> None:
        """Write model_devi.csv, merge deepmd's per-atom deviation into the dumps."""
        self.log.poll()
        self.log.write_csv(out_dir / CSV_FILE)
        if not self.engine:
            add_devi_column(out_dir / "traj.dump", self.log.per_atom)
            if self.halted_at is not None:
                step = self.halted_at
                add_devi_column(out_dir / "last_frame.dump", {step: self.log.per_atom[step]})
        (out_dir / DEVI_FILE).unlink(missing_ok=True)
        self.kept_file.unlink(missing_ok=True)


def _rows_text(steps: list[int], rows: dict, per_atom: dict[int, np.ndarray]) -> str:
    """Rows in the pair style's layout: step, the 6 columns, per-atom values if any."""
    lines = []
    for step in steps:
        values = [*rows[step], *per_atom.get(step, ())]
        lines.append(" ".join([str(step), *(f"{v:.10g}" for v in values)]))
    return "".join(line + "\n" for line in lines)


def _by_id(lmp: Any, name: str, kind: int) -> np.ndarray:
    """Per-atom ``name`` (a property or ``f_ID``; ``kind`` 0 int, 1 float) of all atoms,
    gathered from every rank, in atom-id order."""
    return np.array(lmp.gather(name, kind, 1))
