// Committee deviation shared by xfer's pair styles: see committee.h.
#include "committee.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "update.h"
#include "utils.h"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <limits>

using namespace LAMMPS_NS;

namespace xfer_committee {

int parse_keyword(LAMMPS *lmp, int narg, char **arg, int i, Settings &settings)
{
  const std::string word = arg[i];
  if (word != "out_freq" && word != "out_file") return 0;
  if (i + 1 >= narg) lmp->error->all(FLERR, "pair_style keyword " + word + " needs a value");
  if (word == "out_freq") {
    settings.out_freq = utils::inumeric(FLERR, arg[i + 1], false, lmp);
    if (settings.out_freq < 1) lmp->error->all(FLERR, "pair_style out_freq must be >= 1");
  } else {
    settings.out_file = arg[i + 1];
  }
  return 2;
}

Deviation::Deviation(LAMMPS *lmp) : Pointers(lmp) {}

Deviation::~Deviation()
{
  if (fp_) fclose(fp_);
}

void Deviation::configure(int n_models, const Settings &settings)
{
  n_models_ = n_models;
  settings_ = settings;
  if (fp_) fclose(fp_);
  fp_ = nullptr;
  std::fill(values_, values_ + NEXTRA, 0.0);
  if (!active() || comm->me != 0) return;
  fp_ = fopen(settings_.out_file.c_str(), "w");
  if (!fp_) error->one(FLERR, "committee: cannot write deviation file " + settings_.out_file);
  fprintf(fp_, "#%11s %18s %18s %18s %18s %18s %18s\n", "step", "max_devi_v", "min_devi_v",
          "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f");
  fflush(fp_);
}

bool Deviation::due() const
{
  return active() && update->whichflag != 2 && update->ntimestep % settings_.out_freq == 0;
}

void Deviation::grow()
{
  if (active() && per_atom_.size() < static_cast<std::size_t>(atom->nmax))
    per_atom_.resize(atom->nmax, 0.0);
}

void Deviation::begin(int n_all)
{
  forces_.assign(static_cast<std::size_t>(n_all) * n_models_ * 3, 0.0);
  virials_.assign(9 * static_cast<std::size_t>(n_models_), 0.0);
}

void Deviation::add_fdotr_virial(int model)
{
  double **x = atom->x;
  const int n_all = static_cast<int>(forces_.size() / (3 * n_models_));
  double *w = virial(model);
  for (int i = 0; i < n_all; ++i) {
    const double *f = force(model, i);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) w[3 * a + b] += x[i][a] * f[b];
  }
}

int Deviation::pack_reverse(int n, int first, double *buf) const
{
  const int width = comm_size();
  int m = 0;
  for (int i = first; i < first + n; ++i)
    for (int k = 0; k < width; ++k) buf[m++] = forces_[i * width + k];
  return m;
}

void Deviation::unpack_reverse(int n, const int *list, const double *buf)
{
  const int width = comm_size();
  int m = 0;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < width; ++k) forces_[list[i] * width + k] += buf[m++];
}

void Deviation::finish()
{
  const int nlocal = atom->nlocal;
  const double natoms = static_cast<double>(atom->natoms);
  const int nm = n_models_;
  grow();

  // per-atom force deviation of the local atoms
  struct {
    double value;
    int tag;
  } worst{-1.0, 0}, worst_all{};
  double lo = std::numeric_limits<double>::max(), sum = 0.0;
  for (int i = 0; i < nlocal; ++i) {
    double mean[3] = {0, 0, 0};
    for (int m = 0; m < nm; ++m)
      for (int d = 0; d < 3; ++d) mean[d] += force(m, i)[d] / nm;
    double var = 0.0;
    for (int m = 0; m < nm; ++m)
      for (int d = 0; d < 3; ++d) {
        const double diff = force(m, i)[d] - mean[d];
        var += diff * diff / nm;
      }
    const double devi = std::sqrt(var);
    per_atom_[i] = devi;
    if (devi > worst.value) worst = {devi, static_cast<int>(atom->tag[i])};
    lo = std::min(lo, devi);
    sum += devi;
  }
  double lo_all = 0.0, sum_all = 0.0;
  MPI_Allreduce(&worst, &worst_all, 1, MPI_DOUBLE_INT, MPI_MAXLOC, world);
  MPI_Allreduce(&lo, &lo_all, 1, MPI_DOUBLE, MPI_MIN, world);
  MPI_Allreduce(&sum, &sum_all, 1, MPI_DOUBLE, MPI_SUM, world);

  // virial deviation: member virials summed over ranks, per atom
  std::vector<double> w(virials_.size());
  MPI_Allreduce(virials_.data(), w.data(), static_cast<int>(w.size()), MPI_DOUBLE, MPI_SUM,
                world);
  double v_hi = 0.0, v_lo = std::numeric_limits<double>::max(), v_sq = 0.0;
  for (int c = 0; c < 9; ++c) {
    double mean = 0.0, var = 0.0;
    for (int m = 0; m < nm; ++m) mean += w[9 * m + c] / natoms / nm;
    for (int m = 0; m < nm; ++m) {
      const double diff = w[9 * m + c] / natoms - mean;
      var += diff * diff / nm;
    }
    const double std_c = std::sqrt(var);
    v_hi = std::max(v_hi, std_c);
    v_lo = std::min(v_lo, std_c);
    v_sq += std_c * std_c;
  }

  // compute pair sums pvector over ranks: rank 0 holds the values, the others zeros
  std::fill(values_, values_ + NEXTRA, 0.0);
  if (comm->me == 0) {
    values_[MAX_DEVI_V] = v_hi;
    values_[MIN_DEVI_V] = v_lo;
    values_[AVG_DEVI_V] = std::sqrt(v_sq / 9.0);
    values_[MAX_DEVI_F] = worst_all.value;
    values_[MIN_DEVI_F] = lo_all;
    values_[AVG_DEVI_F] = sum_all / natoms;
    values_[WORST_ATOM] = worst_all.tag;
    values_[DEVI_STEP] = static_cast<double>(update->ntimestep);
    write_row();
  }
}

void Deviation::write_row()
{
  if (!fp_) return;
  fprintf(fp_, "%12ld %18.10e %18.10e %18.10e %18.10e %18.10e %18.10e\n",
          static_cast<long>(update->ntimestep), values_[MAX_DEVI_V], values_[MIN_DEVI_V],
          values_[AVG_DEVI_V], values_[MAX_DEVI_F], values_[MIN_DEVI_F], values_[AVG_DEVI_F]);
  fflush(fp_);
}

}    // namespace xfer_committee
