// A MACE TorchScript model (as written by mace_create_lammps_model) behind a std-only
// interface. LAMMPS and libtorch both ship fmt/ headers; keeping every torch include in
// mace_model.cpp lets the pair style compile against LAMMPS headers only.
#ifndef XFER_MACE_MODEL_H
#define XFER_MACE_MODEL_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xfer_mace {

// One graph: nodes are atoms, edge e carries a message from senders[e] to receivers[e];
// its vector is x[receiver] - x[sender] + shift, shift = unit_shift . cell (cell rows a,b,c).
struct Graph {
  std::vector<double> positions;        // 3 * n_nodes
  std::vector<int64_t> species;         // per node: index into Model::atomic_numbers()
  std::vector<double> is_local;         // per node: 1 counts in the energy, 0 does not
  std::vector<int64_t> senders, receivers;
  std::vector<double> shifts;           // 3 * n_edges, Cartesian (A)
  std::vector<double> unit_shifts;      // 3 * n_edges, integer lattice vectors
  double cell[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};

  std::size_t n_nodes() const { return species.size(); }
  std::size_t n_edges() const { return senders.size(); }
  void clear();
};

struct Result {
  double energy = 0.0;                  // sum of node energies of local nodes (eV)
  std::vector<double> node_energy;      // per node (eV)
  std::vector<double> forces;           // 3 * n_nodes (eV/A), -dE_local/dx
  double virial[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};  // -dE/d(strain), only if requested
};

// Where the models of one MPI rank run. AUTO takes a GPU when torch sees one.
enum class DeviceRequest { CPU, CUDA, AUTO };

// "cpu" or "cuda:<k>" with k = local_rank mod the GPUs visible to this process (one GPU per
// rank on a node); throws std::runtime_error for CUDA when torch sees no GPU.
std::string choose_device(DeviceRequest request, int local_rank);

// GPUs torch sees in this process (0 without a driver, or with a CPU-only torch).
int visible_gpus();

class Model {
 public:
  // Loads the TorchScript file onto `device` (from choose_device); throws
  // std::runtime_error with a readable message.
  Model(const std::string &path, const std::string &device);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  double r_max() const { return r_max_; }
  int num_interactions() const { return num_interactions_; }
  const std::vector<int> &atomic_numbers() const { return atomic_numbers_; }
  const std::string &device() const { return device_; }

  // Energy, node energies and forces on every node; the virial via the model's strain
  // derivative when want_virial (needs consistent unit_shifts and cell).
  Result evaluate(const Graph &graph, bool want_virial);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double r_max_ = 0.0;
  int num_interactions_ = 0;
  std::vector<int> atomic_numbers_;
  std::string device_;
};

}    // namespace xfer_mace

#endif
