#!/usr/bin/env bash
# Benchmark edgekit on this Jetson, from the repo root:
#   jetson/run.sh [options of python -m benchmarks.jetson]
#   LOCK_CLOCKS=1 jetson/run.sh      run `sudo jetson_clocks` first (max clocks, stable numbers)
#   SUDO=1 jetson/run.sh             run as root: `jetson_clocks --show` and all tegrastats rails need it
#   SUDO=1 jetson/run.sh --sweep-nvpmodel   power-mode sweep: latency and energy per frame per
#                                    nvpmodel mode x jetson_clocks off/on (jetson_sweep.{json,md,png})
# Records `nvpmodel -q` and `jetson_clocks --show`, samples tegrastats during the run and writes
# benchmarks/results/jetson.{json,md,png} (+ jetson_tegrastats.log).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-jetson}
[ -x "$VENV/bin/python" ] || { echo "run.sh: $VENV not found: run jetson/setup.sh first" >&2; exit 1; }
if [ "${LOCK_CLOCKS:-0}" = 1 ]; then
  for arg in "$@"; do
    if [ "$arg" = --sweep-nvpmodel ]; then
      echo "run.sh: LOCK_CLOCKS=1 and --sweep-nvpmodel: the sweep sets the clocks itself (off and on per mode); drop LOCK_CLOCKS" >&2
      exit 2
    fi
  done
  sudo jetson_clocks
fi
if [ "${SUDO:-0}" = 1 ]; then
  exec sudo -E "$VENV/bin/python" -m benchmarks.jetson "$@"
fi
exec "$VENV/bin/python" -m benchmarks.jetson "$@"
