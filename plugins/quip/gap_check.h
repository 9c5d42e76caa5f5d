// Checks of a QUIP potential file done before QUIP reads it: QUIP reports bad files with a
// Fortran STOP that kills the whole process without a LAMMPS error, so catch the known
// failures (unreadable or truncated xml, missing sparseX files, unknown species) first.
#ifndef XFER_GAP_CHECK_H
#define XFER_GAP_CHECK_H

#include <set>
#include <string>

namespace xfer_quip {

struct PotentialFileInfo {
  std::set<int> species;  // atomic numbers the model's descriptors cover (empty: unknown)
};

// Returns "" when the file looks usable, else a one-line reason. Fills `info`.
std::string check_potential_file(const std::string &path, PotentialFileInfo &info);

// Atomic number of an element symbol or of a decimal string ("8"); 0 if neither.
int atomic_number(const std::string &text);

// Element symbol of an atomic number ("?" if out of range).
std::string element_symbol(int z);

}  // namespace xfer_quip

#endif
