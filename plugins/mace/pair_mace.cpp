// pair_style mace: LAMMPS side (neighbour lists -> graph, results -> forces/energy/virial).
// No torch headers here; the model lives behind mace_model.h.
#include "pair_mace.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>

using namespace LAMMPS_NS;

namespace {

const char *const ELEMENTS =
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As "
    "Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd "
    "Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am "
    "Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og";

// Atomic number of an element symbol, 0 if unknown.
int atomic_number(const std::string &symbol)
{
  std::istringstream in(ELEMENTS);
  std::string s;
  for (int z = 1; in >> s; ++z)
    if (s == symbol) return z;
  return 0;
}

std::string symbol_of(int z)
{
  std::istringstream in(ELEMENTS);
  std::string s;
  for (int k = 1; in >> s; ++k)
    if (k == z) return s;
  return "Z" + std::to_string(z);
}

}    // namespace

PairMACE::PairMACE(LAMMPS *lmp) : Pair(lmp), deviation_(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  cutghost = nullptr;
}

PairMACE::~PairMACE()
{
  pvector = nullptr;    // owned by deviation_
  nextra = 0;
  if (copymode) return;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

void PairMACE::allocate()
{
  allocated = 1;
  const int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) setflag[i][j] = 0;
}

void PairMACE::settings(int narg, char **arg)
{
  requested_ = Mode::AUTO;
  device_request_ = xfer_mace::DeviceRequest::AUTO;
  committee_settings_ = xfer_committee::Settings();
  for (int i = 0; i < narg;) {
    const std::string word = arg[i];
    if (const int used = xfer_committee::parse_keyword(lmp, narg, arg, i, committee_settings_)) {
      i += used;
      continue;
    }
    if (word == "device") {
      const std::string value = i + 1 < narg ? arg[i + 1] : "";
      if (value == "cpu")
        device_request_ = xfer_mace::DeviceRequest::CPU;
      else if (value == "cuda")
        device_request_ = xfer_mace::DeviceRequest::CUDA;
      else if (value == "auto")
        device_request_ = xfer_mace::DeviceRequest::AUTO;
      else
        error->all(FLERR, "pair_style mace: device must be cpu, cuda or auto, got '" + value +
                              "'");
      i += 2;
      continue;
    }
    if (word == "no_domain_decomposition")
      requested_ = Mode::LOCAL;
    else if (word == "domain_decomposition")
      requested_ = Mode::GHOST;
    else
      error->all(FLERR, "pair_style mace: unknown keyword '" + word +
                            "' (expected no_domain_decomposition, domain_decomposition, "
                            "device, out_freq or out_file)");
    ++i;
  }
}

// This rank's index among the ranks of its node (picks its GPU).
int PairMACE::node_local_rank() const
{
  MPI_Comm node;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
  int local = 0;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  return local;
}

// Loads every model onto this rank's device; committee members must share species, r_max
// and interaction count.
void PairMACE::load_models(const std::vector<std::string> &paths)
{
  models_.clear();
  std::string device;
  try {
    device = xfer_mace::choose_device(device_request_, node_local_rank());
  } catch (const std::exception &err) {
    error->one(FLERR, std::string("pair_style mace: ") + err.what());    // may differ by node
  }
  try {
    for (const auto &path : paths)
      models_.push_back(std::make_unique<xfer_mace::Model>(path, device));
  } catch (const std::exception &err) {
    error->all(FLERR, std::string("pair mace: ") + err.what());
  }
  if (comm->me == 0)
    utils::logmesg(lmp, "pair mace: {} model(s) on device {} (rank 0; {} GPU(s) visible)\n",
                   models_.size(), device, xfer_mace::visible_gpus());
  model_ = models_[0].get();
  for (std::size_t m = 1; m < models_.size(); ++m) {
    const auto &member = *models_[m];
    if (member.atomic_numbers() != model_->atomic_numbers())
      error->all(FLERR, "pair mace: committee model " + paths[m] +
                            " has other species than " + paths[0]);
    if (member.r_max() != model_->r_max() ||
        member.num_interactions() != model_->num_interactions())
      error->all(FLERR, "pair mace: committee model " + paths[m] +
                            " has another cutoff or number of interactions than " + paths[0]);
  }
  deviation_.configure(static_cast<int>(models_.size()), committee_settings_);
  nextra = deviation_.active() ? xfer_committee::NEXTRA : 0;
  pvector = deviation_.active() ? deviation_.pvector() : nullptr;
}

void PairMACE::coeff(int narg, char **arg)
{
  const int ntypes = atom->ntypes;
  const int n_models = narg - 2 - ntypes;
  if (n_models < 1)
    error->all(FLERR, "pair_coeff for mace must be: * * <model-lammps.pt> [more models] <one "
                      "element per type, " + std::to_string(ntypes) + " types>");
  if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for mace must start with * *");
  if (!allocated) allocate();

  load_models(std::vector<std::string>(arg + 2, arg + 2 + n_models));

  const auto &known = model_->atomic_numbers();
  std::string known_list;
  for (int z : known) known_list += " " + symbol_of(z);
  type_species_.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; ++t) {
    const std::string symbol = arg[1 + n_models + t];
    const int z = atomic_number(symbol);
    if (z == 0) error->all(FLERR, "pair mace: '" + symbol + "' is not an element symbol");
    const auto it = std::find(known.begin(), known.end(), z);
    if (it == known.end())
      error->all(FLERR, "pair mace: element " + symbol + " (atom type " + std::to_string(t) +
                            ") is not in the model, which knows" + known_list);
    type_species_[t] = it - known.begin();
  }
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
}

void PairMACE::init_style()
{
  if (!model_) error->all(FLERR, "pair mace: pair_coeff has not been given");
  if (std::strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "pair mace requires 'units metal' (eV, A)");
  if (!atom->tag_enable) error->all(FLERR, "pair mace requires atom IDs");
  if (!force->newton_pair) error->all(FLERR, "pair mace requires 'newton on'");

  ghost_mode_ = requested_ == Mode::GHOST || (requested_ == Mode::AUTO && comm->nprocs > 1);
  if (!ghost_mode_ && comm->nprocs > 1)
    error->all(FLERR, "pair_style mace no_domain_decomposition runs on one MPI rank only");

  ghostneigh = ghost_mode_ ? 1 : 0;
  comm_reverse = ghost_mode_ && deviation_.active() ? deviation_.comm_size() : 0;
  no_virial_fdotr_compute = ghost_mode_ ? 0 : 1;
  if (ghost_mode_) {
    // every atom within num_interactions * r_max of a local atom must exist as a ghost
    const double reach = model_->num_interactions() * model_->r_max() + neighbor->skin;
    comm->cutghostuser = std::max(comm->cutghostuser, reach);
    neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
  } else {
    neighbor->add_request(this, NeighConst::REQ_FULL);
  }
}

double PairMACE::init_one(int i, int j)
{
  cutghost[i][j] = cutghost[j][i] = model_->r_max();
  return model_->r_max();
}

void PairMACE::add_node(int atom_index, double is_local)
{
  double **x = atom->x;
  node_atom_.push_back(atom_index);
  graph_.positions.insert(graph_.positions.end(), x[atom_index], x[atom_index] + 3);
  graph_.species.push_back(type_species_[atom->type[atom_index]]);
  graph_.is_local.push_back(is_local);
}

// One rank: nodes are the local atoms; a neighbour that is a ghost becomes an edge to its
// local owner with the lattice shift between the two.
void PairMACE::build_local_graph()
{
  double **x = atom->x;
  tagint *tag = atom->tag;
  const int nlocal = atom->nlocal;
  const double rc2 = model_->r_max() * model_->r_max();

  tagint maxtag = 0;
  for (int i = 0; i < nlocal; ++i) maxtag = std::max(maxtag, tag[i]);
  scratch_.assign(maxtag + 1, -1);
  for (int i = 0; i < nlocal; ++i) scratch_[tag[i]] = i;

  // cell rows a, b, c of the (possibly triclinic) box; unit shifts solve s = n . cell
  const double a = domain->xprd, b = domain->yprd, c = domain->zprd;
  const double xy = domain->triclinic ? domain->xy : 0.0;
  const double xz = domain->triclinic ? domain->xz : 0.0;
  const double yz = domain->triclinic ? domain->yz : 0.0;
  const double cell[9] = {a, 0.0, 0.0, xy, b, 0.0, xz, yz, c};
  std::memcpy(graph_.cell, cell, sizeof(cell));

  for (int i = 0; i < nlocal; ++i) add_node(i, 1.0);
  for (int ii = 0; ii < list->inum; ++ii) {
    const int i = list->ilist[ii];
    const int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = jlist[jj] & NEIGHMASK;
      const double d[3] = {x[j][0] - x[i][0], x[j][1] - x[i][1], x[j][2] - x[i][2]};
      if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] >= rc2) continue;
      const int owner = j < nlocal ? j : (tag[j] <= maxtag ? scratch_[tag[j]] : -1);
      if (owner < 0) error->one(FLERR, "pair mace: ghost atom without a local owner");
      const double s[3] = {x[j][0] - x[owner][0], x[j][1] - x[owner][1], x[j][2] - x[owner][2]};
      const double nz = std::round(s[2] / c);
      const double ny = std::round((s[1] - nz * yz) / b);
      const double nx = std::round((s[0] - ny * xy - nz * xz) / a);
      graph_.senders.push_back(i);
      graph_.receivers.push_back(owner);
      graph_.unit_shifts.insert(graph_.unit_shifts.end(), {nx, ny, nz});
      graph_.shifts.insert(graph_.shifts.end(),
                           {nx * a + ny * xy + nz * xz, ny * b + nz * yz, nz * c});
    }
  }
}

// Several ranks: local atoms and the ghosts within num_interactions hops are nodes.
// Only nodes fewer than num_interactions hops away from a local atom need correct
// features, so only edges into those nodes are kept.
void PairMACE::build_ghost_graph()
{
  double **x = atom->x;
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const int depth = model_->num_interactions();
  const double rc2 = model_->r_max() * model_->r_max();
  auto within = [&](int i, int j) {
    const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
    return dx * dx + dy * dy + dz * dz < rc2;
  };

  std::vector<int> &hop = scratch_;
  hop.assign(nall, -1);
  std::vector<int> frontier, next;
  for (int i = 0; i < nlocal; ++i) {
    hop[i] = 0;
    frontier.push_back(i);
  }
  for (int t = 1; t <= depth; ++t) {
    next.clear();
    for (int i : frontier)
      for (int jj = 0; jj < list->numneigh[i]; ++jj) {
        const int j = list->firstneigh[i][jj] & NEIGHMASK;
        if (hop[j] < 0 && within(i, j)) {
          hop[j] = t;
          next.push_back(j);
        }
      }
    frontier.swap(next);
  }

  std::vector<int> node_of(nall, -1);
  for (int i = 0; i < nall; ++i)
    if (hop[i] >= 0) {
      node_of[i] = static_cast<int>(node_atom_.size());
      add_node(i, i < nlocal ? 1.0 : 0.0);
    }
  for (int i = 0; i < nall; ++i) {
    if (hop[i] < 0 || hop[i] >= depth) continue;
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = list->firstneigh[i][jj] & NEIGHMASK;
      if (!within(i, j)) continue;
      graph_.senders.push_back(node_of[j]);
      graph_.receivers.push_back(node_of[i]);
      graph_.shifts.insert(graph_.shifts.end(), {0.0, 0.0, 0.0});
      graph_.unit_shifts.insert(graph_.unit_shifts.end(), {0.0, 0.0, 0.0});
    }
  }
}

void PairMACE::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (vflag_atom) error->all(FLERR, "pair mace does not compute per-atom virials");

  graph_.clear();
  node_atom_.clear();
  deviation_.grow();
  if (atom->nlocal == 0) {
    if (deviation_.due()) committee_deviation(xfer_mace::Result());    // collective
    return;
  }
  if (ghost_mode_)
    build_ghost_graph();
  else
    build_local_graph();

  const bool committee_step = deviation_.due();
  const bool want_virial = !ghost_mode_ && (vflag_global || committee_step);
  xfer_mace::Result res;
  try {
    res = model_->evaluate(graph_, want_virial);
  } catch (const std::exception &err) {
    error->one(FLERR, std::string("pair mace: ") + err.what());
  }

  double **f = atom->f;
  for (std::size_t k = 0; k < node_atom_.size(); ++k)
    for (int d = 0; d < 3; ++d) f[node_atom_[k]][d] += res.forces[3 * k + d];

  if (eflag_global) eng_vdwl += res.energy;
  if (eflag_atom && res.node_energy.size() == node_atom_.size())
    for (std::size_t k = 0; k < node_atom_.size(); ++k)
      if (node_atom_[k] < atom->nlocal) eatom[node_atom_[k]] += res.node_energy[k];

  if (committee_step) committee_deviation(res);

  if (want_virial && vflag_global) {
    const double *v = res.virial;    // 3x3 row-major
    virial[0] += v[0];
    virial[1] += v[4];
    virial[2] += v[8];
    virial[3] += 0.5 * (v[1] + v[3]);
    virial[4] += 0.5 * (v[2] + v[6]);
    virial[5] += 0.5 * (v[5] + v[7]);
  }
  if (vflag_fdotr) virial_fdotr_compute();
}

// Every committee member on the driving model's graph; forces of ghost nodes are summed
// into their owners, the virial is the model's own (one rank) or sum(r . f) over nodes.
void PairMACE::committee_deviation(const xfer_mace::Result &driving)
{
  deviation_.begin(atom->nlocal + atom->nghost);
  for (std::size_t m = 0; m < models_.size(); ++m) {
    xfer_mace::Result member;
    if (m > 0 && !node_atom_.empty()) {
      try {
        member = models_[m]->evaluate(graph_, !ghost_mode_);
      } catch (const std::exception &err) {
        error->one(FLERR, std::string("pair mace: committee model: ") + err.what());
      }
    }
    const xfer_mace::Result &res = m == 0 ? driving : member;
    if (res.forces.size() != 3 * node_atom_.size()) continue;    // no atoms on this rank
    for (std::size_t k = 0; k < node_atom_.size(); ++k)
      for (int d = 0; d < 3; ++d) deviation_.force(m, node_atom_[k])[d] += res.forces[3 * k + d];
    if (ghost_mode_)
      deviation_.add_fdotr_virial(m);
    else
      std::copy(res.virial, res.virial + 9, deviation_.virial(m));
  }
  if (ghost_mode_) comm->reverse_comm(this);
  deviation_.finish();
}

int PairMACE::pack_reverse_comm(int n, int first, double *buf)
{
  return deviation_.pack_reverse(n, first, buf);
}

void PairMACE::unpack_reverse_comm(int n, int *list, double *buf)
{
  deviation_.unpack_reverse(n, list, buf);
}

void *PairMACE::extract_peratom(const char *name, int &ncol)
{
  ncol = 0;
  if (std::strcmp(name, "devi_f") == 0) return deviation_.per_atom();
  return nullptr;
}
