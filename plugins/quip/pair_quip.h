// pair_style quip: evaluates a QUIP potential (GAP) through QUIP's LAMMPS C API.
//   pair_style quip [out_freq N] [out_file F]
//   pair_coeff * * <model.xml> [member.xml ...] "<QUIP init string, e.g. IP GAP>"
//              <element or Z per atom type>
// QUIP's LAMMPS interface holds ONE driving potential per process: a second, different
// driving model in the same process is refused instead of silently replacing the first.
// With several models the first drives the dynamics exactly as alone; every out_freq steps
// all are evaluated and their deviation is written to out_file and exposed to LAMMPS (see
// ../common/committee.h): `compute ID all pair quip`, `fix ID all pair N quip devi_f 0`.
#ifndef XFER_PAIR_QUIP_H
#define XFER_PAIR_QUIP_H

#include "committee.h"
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
  int pack_reverse_comm(int n, int first, double *buf) override;
  void unpack_reverse_comm(int n, int *list, double *buf) override;
  void *extract_peratom(const char *name, int &ncol) override;

 private:
  void allocate();
  void load_driving_model(const std::string &file, const std::string &init);
  void load_members(const std::vector<std::string> &files, const std::string &init);
  // One QUIP evaluation of `handle` on the current neighbour data into energy/force_.
  void evaluate(std::vector<int> &handle, double &energy);
  void committee_deviation();

  std::vector<int> type_z_;   // atomic number per LAMMPS atom type (index 1..ntypes)
  std::vector<int> handle_;   // QUIP's opaque potential handle
  double quip_cutoff_ = 0.0;
  std::vector<std::vector<int>> member_handles_;  // committee members 1.. (not the driver)
  xfer_committee::Settings committee_settings_;
  xfer_committee::Deviation deviation_;

  // Work arrays handed to QUIP, reused between steps.
  std::vector<int> z_, tag_, ilist_, num_neigh_, neigh_;
  std::vector<double> local_e_, local_virial_, force_;
};

}  // namespace xfer_quip

#endif
