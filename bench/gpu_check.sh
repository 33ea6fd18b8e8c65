#!/usr/bin/env bash
# The engine's CUDA check: the sheet tests (CUDA ones included) and the benchmark on the GPU.
#
# For a headless GPU machine that has torch, numpy, pandas, pyarrow and pytest but no network:
# before sending the tree, prepare here
#   mkdir -p .data && cp -r "$(.venv/bin/python -c 'from collabsheet.engine.data.movielens import cache_folder; print(cache_folder())')" .data/
#   .venv/bin/pip download --no-deps -d .whl platformdirs==4.14.8 openpyxl==3.1.5 et-xmlfile==2.0.0 rich==15.0.0 \
#       markdown-it-py mdurl pygments
# and carry .data and .whl. Usage: bash bench/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp}}"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" COLLABSHEET_CACHE="$PWD/.data" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_sheet.py tests/test_kernel.py tests/test_optim.py tests/test_race.py \
  tests/test_train_fit.py tests/test_train_rowstep.py tests/test_train_scale.py 2>&1 | tee "$out/tests.txt" || true
python3 bench/sheet.py --device cuda 2>&1 | tee "$out/bench_cuda.txt"
python3 bench/train.py --device cuda --skip-surprise 2>&1 | tee "$out/train_cuda.txt"  # ratings/s at 25M scale
