#!/usr/bin/env bash
# The prepared GPU check (issue 13 part 4), for a machine with an NVIDIA GPU:
#   1. builds xfer's plugins (pair mace links the CUDA parts of the torch wheel);
#   2. runs the MACE and DeePMD parity tests with LAMMPS on the GPU (float64, 1e-6 eV/A
#      against the backends' ASE calculators on the CPU) and the pair mace device tests;
#   3. compares throughput GPU vs CPU (`xfer bench` when present, else a small timing of
#      `xfer md` with the tiny models the tests just trained);
# and writes benchmarks/results/gpu.json. Budget: under 8 minutes. Without a GPU it says
# so and exits 0. Usage: benchmarks/gpu_check.sh [time budget in s, default 480]
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-480}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi absent or sees no GPU): nothing to check"
  exit 0
fi
nvidia-smi -L

start=$(date +%s)
nice scripts/build_plugins.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python benchmarks/gpu_check.py --budget "$((budget - $(date +%s) + start))" \
  --build-s "$(($(date +%s) - start))"
