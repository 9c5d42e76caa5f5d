#!/usr/bin/env bash
# Idempotent set-up of xfer's pinned environment in .venv (PyPI + Debian only).
# Re-running is cheap: the install is skipped while requirements and sources are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for tool in g++ cmake make; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
if ((${#need_apt[@]})); then
  echo "[bootstrap] installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
# A headless Chromium for the report's browser test (tests/test_report_html.py); without
# it (no apt access) that test skips, so a failed install does not stop the bootstrap.
if ! command -v chromium-headless-shell >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1
then
  echo "[bootstrap] installing Debian's chromium-headless-shell"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium-headless-shell; } \
    || echo "[bootstrap] chromium-headless-shell not installed: the browser test will skip"
fi

PY="${XFER_PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv with $PY"
  "$PY" -m venv .venv
fi

stamp=.venv/.xfer-installed
want=$(cat requirements.lock.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing the pinned stack (first time: ~5 min, ~6 GB)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.lock.txt
  .venv/bin/pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
if [ -x scripts/build_plugins.sh ]; then
  scripts/build_plugins.sh
fi
