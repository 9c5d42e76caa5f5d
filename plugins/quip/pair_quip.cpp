// pair_style quip: see pair_quip.h.
#include "pair_quip.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"

#include "gap_check.h"
#include "quip_api.h"
#include "quip_members.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

using namespace LAMMPS_NS;

namespace xfer_quip {

namespace {

constexpr int kQuipApiVersion = 1;

// The model QUIP holds for this process (QUIP keeps it in one static Fortran variable).
struct LoadedModel {
  std::string key;  // file identity + init string; empty while nothing is loaded
  std::vector<int> handle;
  double cutoff = 0.0;
};

LoadedModel &loaded_model() {
  static LoadedModel model;
  return model;
}

// Identifies the exact file contents QUIP would read: path, size and modification time.
std::string model_key(const std::string &file, const std::string &init) {
  struct stat st {};
  char resolved[PATH_MAX];
  const std::string path = realpath(file.c_str(), resolved) ? resolved : file;
  if (stat(path.c_str(), &st) != 0) return path + "|" + init;
  return path + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec) + "|" + init;
}

}  // namespace

PairQuip::PairQuip(LAMMPS *lmp) : Pair(lmp), deviation_(lmp) {
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairQuip::~PairQuip() {
  pvector = nullptr;  // owned by deviation_
  nextra = 0;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairQuip::allocate() {
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; ++i)
    for (int j = i; j <= n; ++j) setflag[i][j] = 0;
}

void PairQuip::settings(int narg, char **arg) {
  committee_settings_ = xfer_committee::Settings();
  for (int i = 0; i < narg;) {
    const int used = xfer_committee::parse_keyword(lmp, narg, arg, i, committee_settings_);
    if (used == 0)
      error->all(FLERR, "pair_style quip: unknown keyword '{}' (expected out_freq or out_file)",
                 arg[i]);
    i += used;
  }
  if (quip_lammps_api_version() != kQuipApiVersion)
    error->all(FLERR, "pair_style quip: QUIP library has LAMMPS API version {}, plugin needs {}",
               quip_lammps_api_version(), kQuipApiVersion);
}

void PairQuip::coeff(int narg, char **arg) {
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  const int n_models = narg - 3 - ntypes;
  if (n_models < 1)
    error->all(FLERR,
               "pair_coeff for quip needs: * * <model.xml> [more models] \"<init string>\" and "
               "one element per atom type ({} types), got {} arguments",
               ntypes, narg);
  if (std::string(arg[0]) != "*" || std::string(arg[1]) != "*")
    error->all(FLERR, "pair_coeff for quip must start with * *");

  const std::vector<std::string> files(arg + 2, arg + 2 + n_models);
  const std::string init = arg[2 + n_models];
  std::set<int> species;
  for (const auto &file : files) {
    PotentialFileInfo info;
    const std::string problem = check_potential_file(file, info);
    if (!problem.empty()) error->all(FLERR, "pair_style quip: {}", problem);
    if (&file != &files[0] && info.species != species)
      error->all(FLERR, "pair_style quip: committee model {} has other species than {}", file,
                 files[0]);
    species = info.species;
  }

  type_z_.assign(ntypes + 1, 0);
  for (int t = 1; t <= ntypes; ++t) {
    const std::string name = arg[2 + n_models + t];
    const int z = atomic_number(name);
    if (z == 0)
      error->all(FLERR, "pair_style quip: '{}' (atom type {}) is not an element symbol or "
                        "atomic number", name, t);
    if (!species.empty() && species.count(z) == 0) {
      std::string known;
      for (const int sp : species) known += (known.empty() ? "" : " ") + element_symbol(sp);
      error->all(FLERR, "pair_style quip: element {} (atom type {}) is not in model {} "
                        "(species: {})", element_symbol(z), t, files[0], known);
    }
    type_z_[t] = z;
  }

  load_driving_model(files[0], init);
  load_members(std::vector<std::string>(files.begin() + 1, files.end()), init);

  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
}

void PairQuip::load_driving_model(const std::string &file, const std::string &init) {
  // QUIP keeps one potential per process: reuse it for the same model, refuse another.
  LoadedModel &model = loaded_model();
  const std::string key = model_key(file, init);
  if (model.key.empty()) {
    int n_handle = 0;
    int n_file = static_cast<int>(file.size());
    int n_init = static_cast<int>(init.size());
    double cutoff = 0.0;
    quip_lammps_potential_initialise(nullptr, &n_handle, &cutoff, file.c_str(), &n_file,
                                     init.c_str(), &n_init);
    if (n_handle <= 0) error->all(FLERR, "pair_style quip: QUIP returned no potential handle");
    model.handle.assign(n_handle, 0);
    quip_lammps_potential_initialise(model.handle.data(), &n_handle, &cutoff, file.c_str(),
                                     &n_file, init.c_str(), &n_init);
    model.cutoff = cutoff;
    model.key = key;
    // QUIP's initialise resets libAtoms' verbosity stack; push one level so that a quippy
    // module living in the same process still finds a value to pop when it finalises.
    int silent = 0;
    __system_module_MOD_verbosity_push(&silent);
  } else if (model.key != key) {
    error->all(FLERR, "pair_style quip: this process already holds QUIP model '{}'; QUIP keeps "
                      "one model per process, so evaluate '{}' in another process",
               model.key.substr(0, model.key.find('|')), file);
  }
  handle_ = model.handle;
  quip_cutoff_ = model.cutoff;
}

void PairQuip::load_members(const std::vector<std::string> &files, const std::string &init) {
  member_handles_.clear();
  for (const auto &file : files) {
    try {
      const MemberPotential &member = member_potential(model_key(file, init), file, init);
      if (member.cutoff != quip_cutoff_)
        error->all(FLERR, "pair_style quip: committee model {} has cutoff {} A, the driving "
                          "model {} A", file, member.cutoff, quip_cutoff_);
      if (member.handle.size() != handle_.size())
        error->all(FLERR, "pair_style quip: QUIP potential handles differ in size");
      member_handles_.push_back(member.handle);
    } catch (const std::runtime_error &err) {
      error->all(FLERR, "pair_style quip: committee model {}: {}", file, err.what());
    }
  }
  deviation_.configure(1 + static_cast<int>(member_handles_.size()), committee_settings_);
  nextra = deviation_.active() ? xfer_committee::NEXTRA : 0;
  pvector = deviation_.active() ? deviation_.pvector() : nullptr;
}

void PairQuip::init_style() {
  if (force->newton_pair != 1) error->all(FLERR, "pair_style quip requires newton pair on");
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style quip requires atom IDs");
  if (handle_.empty()) error->all(FLERR, "pair_style quip: pair_coeff has not loaded a model");
  comm_reverse = deviation_.active() ? deviation_.comm_size() : 0;
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairQuip::init_one(int /*i*/, int /*j*/) { return quip_cutoff_; }

void PairQuip::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);

  deviation_.grow();
  const int nlocal = atom->nlocal;
  const int ntotal = nlocal + atom->nghost;
  const int inum = list->inum;

  z_.resize(ntotal);
  tag_.resize(ntotal);
  ilist_.resize(inum);
  num_neigh_.resize(inum);
  neigh_.clear();
  local_e_.assign(ntotal, 0.0);
  local_virial_.assign(9 * static_cast<std::size_t>(ntotal), 0.0);
  force_.assign(3 * static_cast<std::size_t>(ntotal), 0.0);

  const int *type = atom->type;
  for (int i = 0; i < ntotal; ++i) {
    z_[i] = type_z_[type[i]];
    tag_[i] = static_cast<int>(atom->tag[i]);
  }
  // Only pairs inside QUIP's cutoff: LAMMPS' list reaches cutoff + skin, and QUIP turns
  // every listed pair into a bond of its connectivity and visits it in every descriptor
  // (with skin 1 A at a 4.5 A cutoff that is 1.8x the pairs that count).
  double **x = atom->x;
  const double cut2 = quip_cutoff_ * quip_cutoff_;
  for (int ii = 0; ii < inum; ++ii) {
    const int i = list->ilist[ii];
    ilist_[ii] = i;  // QUIP expects 0-based local indices here ...
    const int *jlist = list->firstneigh[i];
    const std::size_t before = neigh_.size();
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = jlist[jj] & NEIGHMASK;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz < cut2) neigh_.push_back(j + 1);  // ... 1-based here
    }
    num_neigh_[ii] = static_cast<int>(neigh_.size() - before);
  }

  double energy = 0.0;
  evaluate(handle_, energy);

  double **f = atom->f;
  for (int i = 0; i < ntotal; ++i) {
    f[i][0] += force_[3 * i];
    f[i][1] += force_[3 * i + 1];
    f[i][2] += force_[3 * i + 2];
  }

  if (eflag_global) eng_vdwl += energy;
  // Per-atom terms include ghost atoms (QUIP gives them their share of pair terms); with
  // newton on, LAMMPS sums ghost contributions back to their owners.
  if (eflag_atom)
    for (int i = 0; i < ntotal; ++i) eatom[i] += local_e_[i];

  if (vflag_atom) {
    // Fortran (row, col) of atom i sits at 9*i + row + 3*col.
    for (int i = 0; i < ntotal; ++i) {
      const double *w = &local_virial_[9 * static_cast<std::size_t>(i)];
      vatom[i][0] += w[0];
      vatom[i][1] += w[4];
      vatom[i][2] += w[8];
      vatom[i][3] += 0.5 * (w[3] + w[1]);
      vatom[i][4] += 0.5 * (w[6] + w[2]);
      vatom[i][5] += 0.5 * (w[7] + w[5]);
    }
  }
  if (vflag_fdotr) virial_fdotr_compute();
  if (deviation_.due()) committee_deviation();
}

void PairQuip::evaluate(std::vector<int> &handle, double &energy) {
  int nlocal = atom->nlocal;
  int nghost = atom->nghost;
  int inum = list->inum;
  int sum_neigh = static_cast<int>(neigh_.size());
  // Cell vectors as the columns of a column-major 3x3 matrix.
  double lattice[9] = {domain->xprd, 0.0, 0.0, domain->xy, domain->yprd, 0.0,
                       domain->xz, domain->yz, domain->zprd};
  int n_handle = static_cast<int>(handle.size());
  double quip_virial[9] = {0.0};
  quip_lammps_wrapper(&nlocal, &nghost, z_.data(), tag_.data(), &inum, &sum_neigh, ilist_.data(),
                      num_neigh_.data(), neigh_.data(), lattice, handle.data(), &n_handle,
                      &atom->x[0][0], &energy, local_e_.data(), quip_virial,
                      local_virial_.data(), force_.data());
}

// Every member on the same neighbour data (force_ still holds the driving model's forces);
// ghost forces are summed into their owners, virials are sum(r . f) as LAMMPS' own.
void PairQuip::committee_deviation() {
  const int ntotal = atom->nlocal + atom->nghost;
  deviation_.begin(ntotal);
  for (int m = 0; m < deviation_.n_models(); ++m) {
    double energy = 0.0;
    if (m > 0) {
      std::fill(force_.begin(), force_.end(), 0.0);
      evaluate(member_handles_[m - 1], energy);
    }
    for (int i = 0; i < ntotal; ++i) std::memcpy(deviation_.force(m, i), &force_[3 * i], 24);
    deviation_.add_fdotr_virial(m);
  }
  comm->reverse_comm(this);
  deviation_.finish();
}

int PairQuip::pack_reverse_comm(int n, int first, double *buf) {
  return deviation_.pack_reverse(n, first, buf);
}

void PairQuip::unpack_reverse_comm(int n, int *list, double *buf) {
  deviation_.unpack_reverse(n, list, buf);
}

void *PairQuip::extract_peratom(const char *name, int &ncol) {
  ncol = 0;
  if (std::strcmp(name, "devi_f") == 0) return deviation_.per_atom();
  return nullptr;
}

}  // namespace xfer_quip
