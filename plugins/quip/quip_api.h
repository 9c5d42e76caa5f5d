// The QUIP-LAMMPS C API exported by quippy-ase's libPotentials (QUIP API version 1),
// plus the one libAtoms routine the plugin needs. All arguments are passed by reference
// (Fortran bind(C) without VALUE). Arrays are Fortran column-major.
#ifndef XFER_QUIP_API_H
#define XFER_QUIP_API_H

extern "C" {

int quip_lammps_api_version();

// Call twice: with *n_handle == 0 it loads the model and sets *n_handle to the handle size;
// then with an array of that size it fills the handle. Fortran STOPs on any error.
void quip_lammps_potential_initialise(int *handle, int *n_handle, double *cutoff,
                                      const char *file, int *n_file, const char *init,
                                      int *n_init);

// Energy, per-atom energies, virial (3x3), per-atom virials (9 x ntotal) and forces
// (3 x ntotal) of the local atoms in ilist (0-based) whose neighbours are given 1-based.
void quip_lammps_wrapper(int *nlocal, int *nghost, int *atomic_numbers, int *tags, int *inum,
                         int *sum_num_neigh, int *ilist, int *num_neigh, int *neigh,
                         double *lattice, int *handle, int *n_handle, double *x, double *energy,
                         double *local_energy, double *virial, double *local_virial,
                         double *force);

// libAtoms system_module::verbosity_push (gfortran module-procedure name).
void __system_module_MOD_verbosity_push(int *value);
}

#endif
