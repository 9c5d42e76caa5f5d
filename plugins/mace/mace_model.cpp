// libtorch side of pair_style mace: loads the TorchScript model and evaluates one graph.
#include "mace_model.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <cstring>
#include <stdexcept>

namespace xfer_mace {

namespace {

// First line of a c10 error: the rest is a C++ backtrace nobody asked for.
std::string short_message(const c10::Error &err)
{
  std::string msg = err.what_without_backtrace();
  const auto eol = msg.find('\n');
  return eol == std::string::npos ? msg : msg.substr(0, eol);
}

// Host data -> a new tensor of `dtype` on `device` (the host buffer is not kept).
torch::Tensor copy_in(const double *data, at::IntArrayRef shape, torch::Dtype dtype,
                      const torch::Device &device)
{
  auto view = torch::from_blob(const_cast<double *>(data), shape, torch::kFloat64);
  return view.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

torch::Tensor copy_in(const int64_t *data, at::IntArrayRef shape, const torch::Device &device)
{
  auto view = torch::from_blob(const_cast<int64_t *>(data), shape, torch::kInt64);
  return view.to(device, torch::kInt64, /*non_blocking=*/false, /*copy=*/true);
}

std::vector<double> copy_out(const torch::Tensor &t)
{
  auto d = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const double *p = d.data_ptr<double>();
  return std::vector<double>(p, p + d.numel());
}

}    // namespace

int visible_gpus()
{
  return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

std::string choose_device(DeviceRequest request, int local_rank)
{
  const int gpus = request == DeviceRequest::CPU ? 0 : visible_gpus();
  if (request == DeviceRequest::CUDA && gpus == 0)
    throw std::runtime_error("device cuda requested but torch sees no CUDA GPU in this "
                             "process (no NVIDIA driver/GPU, CUDA_VISIBLE_DEVICES empty, or a "
                             "CPU-only torch); use device cpu or auto");
  if (gpus == 0) return "cpu";
  return "cuda:" + std::to_string(local_rank % gpus);
}

void Graph::clear()
{
  positions.clear();
  species.clear();
  is_local.clear();
  senders.clear();
  receivers.clear();
  shifts.clear();
  unit_shifts.clear();
  std::memset(cell, 0, sizeof(cell));
}

struct Model::Impl {
  torch::jit::script::Module module;
  torch::Dtype dtype = torch::kFloat64;
  torch::Device device = torch::kCPU;
};

Model::Model(const std::string &path, const std::string &device)
    : impl_(new Impl), device_(device)
{
  impl_->device = torch::Device(device);
  try {
    impl_->module = torch::jit::load(path, impl_->device);
  } catch (const c10::Error &err) {
    throw std::runtime_error("cannot read MACE model '" + path +
                             "' as TorchScript (expected the *-lammps.pt file written by "
                             "mace_create_lammps_model): " + short_message(err));
  }
  auto &mod = impl_->module;
  for (const char *name : {"r_max", "num_interactions", "atomic_numbers"})
    if (!mod.hasattr(name))
      throw std::runtime_error("'" + path + "' is TorchScript but not a MACE LAMMPS model (no '" +
                               name + "' buffer)");
  mod.eval();
  auto r_max = mod.attr("r_max").toTensor();
  impl_->dtype = r_max.scalar_type();
  r_max_ = r_max.to(torch::kCPU, torch::kFloat64).item<double>();
  num_interactions_ = static_cast<int>(
      mod.attr("num_interactions").toTensor().to(torch::kCPU).item<int64_t>());
  auto z = mod.attr("atomic_numbers").toTensor().to(torch::kCPU, torch::kInt64).contiguous();
  for (int64_t i = 0; i < z.numel(); ++i)
    atomic_numbers_.push_back(static_cast<int>(z.data_ptr<int64_t>()[i]));
}

Model::~Model() = default;

Result Model::evaluate(const Graph &g, bool want_virial)
{
  const auto n = static_cast<int64_t>(g.n_nodes());
  const auto ne = static_cast<int64_t>(g.n_edges());
  const auto dtype = impl_->dtype;
  const auto &device = impl_->device;
  torch::AutoGradMode grad_on(true);    // forces are autograd derivatives inside the model
  // The profiling executor's first calls are several times slower and graph sizes change
  // every MD step; the plain interpreter measured as fast in steady state.
  torch::jit::GraphOptimizerEnabledGuard no_profiling(false);

  auto species = copy_in(g.species.data(), {n}, device);
  auto node_attrs = torch::zeros({n, static_cast<int64_t>(atomic_numbers_.size())},
                                 torch::TensorOptions().dtype(dtype).device(device));
  if (n > 0) node_attrs.scatter_(1, species.unsqueeze(1), 1.0);

  auto edge_index = torch::empty({2, ne}, torch::kInt64);
  if (ne > 0) {
    std::memcpy(edge_index[0].data_ptr<int64_t>(), g.senders.data(), ne * sizeof(int64_t));
    std::memcpy(edge_index[1].data_ptr<int64_t>(), g.receivers.data(), ne * sizeof(int64_t));
  }
  const int64_t ptr_values[2] = {0, n};
  const auto on_device = torch::TensorOptions().dtype(torch::kInt64).device(device);

  c10::Dict<std::string, torch::Tensor> data;
  data.insert("positions", copy_in(g.positions.data(), {n, 3}, dtype, device));
  data.insert("node_attrs", node_attrs);
  data.insert("edge_index", edge_index.to(device));
  data.insert("shifts", copy_in(g.shifts.data(), {ne, 3}, dtype, device));
  data.insert("unit_shifts", copy_in(g.unit_shifts.data(), {ne, 3}, dtype, device));
  data.insert("cell", copy_in(g.cell, {3, 3}, dtype, device));
  data.insert("batch", torch::zeros({n}, on_device));
  data.insert("ptr", copy_in(ptr_values, {2}, device));
  auto is_local = copy_in(g.is_local.data(), {n}, dtype, device);

  c10::IValue result;
  try {
    result = impl_->module.forward({data, is_local, want_virial});
  } catch (const c10::Error &err) {
    throw std::runtime_error("MACE model evaluation failed: " + short_message(err));
  }
  auto out = result.toGenericDict();
  auto energy = out.at("total_energy_local");
  auto forces = out.at("forces");
  if (energy.isNone() || forces.isNone())
    throw std::runtime_error("MACE model returned no energy/forces");

  Result res;
  res.energy = copy_out(energy.toTensor()).at(0);
  res.forces = copy_out(forces.toTensor());
  auto node_energy = out.at("node_energy");
  if (!node_energy.isNone()) res.node_energy = copy_out(node_energy.toTensor());
  auto virials = out.at("virials");
  if (want_virial && !virials.isNone()) {
    auto v = copy_out(virials.toTensor());
    if (v.size() == 9) std::memcpy(res.virial, v.data(), sizeof(res.virial));
  }
  return res;
}

}    // namespace xfer_mace
