#!/usr/bin/env bash
# Idempotent install of Debian's Slurm (slurm-wlm) and munge, for the one-node test cluster
# of tests/test_slurm_campaign.py. A no-op when sbatch, slurmctld, slurmd and munged exist.
set -euo pipefail
missing=0
for tool in sbatch slurmctld slurmd munged; do
  command -v "$tool" >/dev/null 2>&1 || missing=1
done
((missing)) || exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! sudo -n true 2>/dev/null; then
    echo "install_slurm: need root (or passwordless sudo) to apt-get install slurm-wlm munge" >&2
    exit 3
  fi
  SUDO="sudo -n"
fi
echo "[install_slurm] apt-get install slurm-wlm munge" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
