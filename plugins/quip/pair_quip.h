// pair_style quip: evaluates a QUIP potential (GAP) through QUIP's LAMMPS C API.
//   pair_style quip
//   pair_coeff * * <model.xml> "<QUIP init string, e.g. IP GAP>" <element or Z per atom type>
// QUIP holds ONE potential per process: a second, different model in the same process is
// refused instead of silently replacing the first one.
#ifndef XFER_PAIR_QUIP_H
#define XFER_PAIR_QUIP_H

#include "pair.h"

#include <string>
#include <vector>

namespace xfer_quip {

class PairQuip : public LAMMPS_NS::Pair {
 public:
  explicit PairQuip(LAMMPS_NS::LAMMPS *lmp);
  ~PairQuip() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char **arg) override;
  void coeff(int narg, char **arg) override;
  void init_style() override;
  double init_one(int i, int j) override;

 private:
  void allocate();

  std::vector<int> type_z_;   // atomic number per LAMMPS atom type (index 1..ntypes)
  std::vector<int> handle_;   // QUIP's opaque potential handle
  double quip_cutoff_ = 0.0;

  // Work arrays handed to QUIP, reused between steps.
  std::vector<int> z_, tag_, ilist_, num_neigh_, neigh_;
  std::vector<double> local_e_, local_virial_, force_;
};

}  // namespace xfer_quip

#endif
