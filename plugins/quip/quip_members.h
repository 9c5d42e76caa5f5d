// Extra QUIP potentials for a committee in one process.
//
// QUIP's LAMMPS initialiser keeps its potential in one static Fortran variable, so it
// loads only the driving model. The wrapper itself evaluates any potential whose address
// it is handed, so committee members are allocated here as Fortran `type(Potential)`
// objects (size and default value from the type's gfortran vtab, which libPotentials
// exports) and initialised with potential_module's own Potential_Filename_Initialise.
// Members live for the whole process, keyed by file identity (loading a GAP takes ~1 s).
#ifndef XFER_QUIP_MEMBERS_H
#define XFER_QUIP_MEMBERS_H

#include <string>
#include <vector>

namespace xfer_quip {

struct MemberPotential {
  std::vector<int> handle;  // the pointer to the Potential, as QUIP's wrapper takes it
  double cutoff = 0.0;
};

// The member for `file` with init string `init`; throws std::runtime_error if QUIP's
// Potential type does not have the expected layout. `key` identifies the file contents.
const MemberPotential &member_potential(const std::string &key, const std::string &file,
                                        const std::string &init);

}  // namespace xfer_quip

#endif
