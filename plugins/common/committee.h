// Committee deviation shared by xfer's pair styles (mace, quip): several models evaluate
// the same configuration every out_freq steps; only model 0 drives the dynamics.
//
// Definitions and file columns are deepmd-kit's model_devi ones:
//   devi_f(i) = sqrt(mean_m |F_i^m - <F_i>|^2)          per local atom
//   max/min/avg_devi_f over all atoms (avg = mean of devi_f)
//   devi_v(c) = std_m(W^m_c / N) for the 9 virial components c (eV)
//   max/min_devi_v over c, avg_devi_v = sqrt(mean_c devi_v(c)^2)
// Forces of every member live in one buffer over local + ghost atoms; a pair style that
// puts forces on ghosts sums them back to their owners with reverse_comm before finish().
// Results: a row in out_file (rank 0), per-atom devi_f (extract_peratom "devi_f", for
// fix pair) and pvector (compute pair): see PVECTOR below.
#ifndef XFER_COMMITTEE_H
#define XFER_COMMITTEE_H

#include "pointers.h"

#include <cstdio>
#include <string>
#include <vector>

namespace xfer_committee {

// compute pair <style> values (1-based in LAMMPS: c_ID[1] = max_devi_v ...)
enum PVector {
  MAX_DEVI_V, MIN_DEVI_V, AVG_DEVI_V, MAX_DEVI_F, MIN_DEVI_F, AVG_DEVI_F,
  WORST_ATOM,    // atom ID with the largest devi_f
  DEVI_STEP,     // timestep of these values
  NEXTRA
};

struct Settings {
  int out_freq = 100;                      // deepmd-kit's default
  std::string out_file = "model_devi.out";
};

// Reads "out_freq N" or "out_file F" at arg[i]; returns the arguments consumed, 0 if
// arg[i] is not a committee keyword.
int parse_keyword(LAMMPS_NS::LAMMPS *lmp, int narg, char **arg, int i, Settings &settings);

class Deviation : protected LAMMPS_NS::Pointers {
 public:
  explicit Deviation(LAMMPS_NS::LAMMPS *lmp);
  ~Deviation() override;
  Deviation(const Deviation &) = delete;
  Deviation &operator=(const Deviation &) = delete;

  // Number of models (1 = no committee) and settings; (re)opens out_file on rank 0.
  void configure(int n_models, const Settings &settings);
  int n_models() const { return n_models_; }
  bool active() const { return n_models_ > 1; }
  // True on steps whose deviation is computed (never during minimisation).
  bool due() const;

  // Keeps the per-atom devi_f array as large as LAMMPS' atom arrays (call every step).
  void grow();
  // Zeroed force buffer for n_all atoms; then fill force(m, i) and virial(m).
  void begin(int n_all);
  double *force(int model, int atom) { return &forces_[(atom * n_models_ + model) * 3]; }
  double *virial(int model) { return &virials_[9 * model]; }
  // virial(m) += sum_i x_i (x) F_i^m over the buffer's atoms (LAMMPS' fdotr virial).
  void add_fdotr_virial(int model);

  // Reverse communication of the force buffer (3 * n_models values per atom).
  int comm_size() const { return 3 * n_models_; }
  int pack_reverse(int n, int first, double *buf) const;
  void unpack_reverse(int n, const int *list, const double *buf);

  // Per-atom devi_f, reductions over ranks, pvector, file row. Collective.
  void finish();

  double *per_atom() { return per_atom_.empty() ? nullptr : per_atom_.data(); }
  double *pvector() { return values_; }

 private:
  int n_models_ = 1;
  Settings settings_;
  FILE *fp_ = nullptr;
  std::vector<double> forces_, virials_, per_atom_;
  double values_[NEXTRA] = {0, 0, 0, 0, 0, 0, 0, 0};

  void write_row();
};

}    // namespace xfer_committee

#endif
