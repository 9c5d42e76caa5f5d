// pair_style mace: evaluates a MACE TorchScript model (mace_create_lammps_model) in LAMMPS.
//
//   pair_style mace [no_domain_decomposition | domain_decomposition]
//   pair_coeff * * model-lammps.pt El1 El2 ...   (one element symbol per atom type)
//
// no_domain_decomposition (default on 1 MPI rank): the graph is built from local atoms
// only, ghost atoms become periodic shifts of their owners; the virial comes from the
// model's strain derivative. domain_decomposition (default on >1 ranks): local and ghost
// atoms are graph nodes, ghosts reach num_interactions * r_max, ghost forces go back
// through reverse communication and the virial is sum(r . f).
#ifndef XFER_PAIR_MACE_H
#define XFER_PAIR_MACE_H

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

 private:
  enum class Mode { AUTO, LOCAL, GHOST };
  Mode requested_ = Mode::AUTO;
  bool ghost_mode_ = false;    // resolved from requested_ and the rank count in init_style

  std::unique_ptr<xfer_mace::Model> model_;
  std::vector<int64_t> type_species_;    // LAMMPS type -> index in the model's species
  xfer_mace::Graph graph_;
  std::vector<int> node_atom_;          // graph node -> LAMMPS atom index
  std::vector<int> scratch_;            // tag -> local index, or atom -> hop count

  void allocate();
  void build_local_graph();
  void build_ghost_graph();
  void add_node(int atom_index, double is_local);
};

}    // namespace LAMMPS_NS

#endif
