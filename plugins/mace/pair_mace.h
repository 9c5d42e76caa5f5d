// pair_style mace: evaluates a MACE TorchScript model (mace_create_lammps_model) in LAMMPS.
//
//   pair_style mace [no_domain_decomposition | domain_decomposition] [device cpu|cuda|auto]
//                   [out_freq N] [out_file F]
//   pair_coeff * * model-lammps.pt [member2-lammps.pt ...] El1 El2 ...   (one element per type)
//
// With several models the first drives the dynamics (energy, forces, virial exactly as a
// single model); every out_freq steps all of them are evaluated on the same graph and
// their deviation is written to out_file and exposed to LAMMPS (see ../common/committee.h):
// `compute ID all pair mace` (c_ID[4] = max_devi_f) and `fix ID all pair N mace devi_f 0`.
//
// no_domain_decomposition (default on 1 MPI rank): the graph is built from local atoms
// only, ghost atoms become periodic shifts of their owners; the virial comes from the
// model's strain derivative. domain_decomposition (default on >1 ranks): local and ghost
// atoms are graph nodes, ghosts reach num_interactions * r_max, ghost forces go back
// through reverse communication and the virial is sum(r . f).
//
// device (default auto): where the models and every tensor live. auto takes a GPU when torch
// sees one, else the CPU; cuda without a visible GPU is an error. Each MPI rank uses GPU
// (node-local rank mod visible GPUs). The graph is built on the CPU from LAMMPS' neighbour
// list each step; positions go to the device, forces/energies/virial come back in float64.
#ifndef XFER_PAIR_MACE_H
#define XFER_PAIR_MACE_H

#include "committee.h"
#include "mace_model.h"
#include "pair.h"

#include <memory>
#include <vector>

namespace LAMMPS_NS {

class PairMACE : public Pair {
 public:
  explicit PairMACE(class LAMMPS *);
  ~PairMACE() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;
  void *extract_peratom(const char *, int &) override;

 private:
  enum class Mode { AUTO, LOCAL, GHOST };
  Mode requested_ = Mode::AUTO;
  bool ghost_mode_ = false;    // resolved from requested_ and the rank count in init_style
  xfer_mace::DeviceRequest device_request_ = xfer_mace::DeviceRequest::AUTO;

  std::vector<std::unique_ptr<xfer_mace::Model>> models_;    // [0] drives the dynamics
  xfer_mace::Model *model_ = nullptr;
  xfer_committee::Settings committee_settings_;
  xfer_committee::Deviation deviation_;
  std::vector<int64_t> type_species_;    // LAMMPS type -> index in the model's species
  xfer_mace::Graph graph_;
  std::vector<int> node_atom_;          // graph node -> LAMMPS atom index
  std::vector<int> scratch_;            // tag -> local index, or atom -> hop count

  void allocate();
  void build_local_graph();
  void build_ghost_graph();
  void add_node(int atom_index, double is_local);
  void load_models(const std::vector<std::string> &paths);
  int node_local_rank() const;
  void committee_deviation(const xfer_mace::Result &driving);
};

}    // namespace LAMMPS_NS

#endif
