"""Everything that talks to LAMMPS: data files, templates, bond alarms, runs, dumps."""
