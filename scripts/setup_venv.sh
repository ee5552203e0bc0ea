#!/usr/bin/env bash
# Create (or reuse) .venv and install unet3d into it.
# torch is installed first and pinned: torch==2.13.0 is a CPU wheel on this machine's disk, while an
# unpinned torch would pull a several-GB CUDA build. Extra arguments go to the project install,
# e.g. `bash scripts/setup_venv.sh` (runtime) or `bash scripts/setup_venv.sh test` (with test tools).
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ -n "$extra" ]; then spec=".[${extra}]"; else spec="."; fi
.venv/bin/python -m pip install -q -e "$spec"
