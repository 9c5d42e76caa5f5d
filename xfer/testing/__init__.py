"""Test support shipped for the test suite and the benchmarks (not used by xfer itself).

:mod:`xfer.testing.synthetic` writes run directories with known answers (density,
diffusion) in xfer's own format, so analyses can be checked without running LAMMPS.
"""
