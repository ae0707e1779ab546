#!/usr/bin/env bash
# HWA training on a GPU, a few minutes on one H100-class card (benchmarks/bench_gpu.py):
#   1. GPT-2-small-class (12 x 768, seq 256, batch 16) and ResNet-18 (224x224, batch 128): one
#      training step, digital vs analog vs HWA (analogue);
#   2. the same models with aihwkit-lightning, its PyTorch mode and its Triton mode
#      (AIHWKIT_USE_TRITON=1), skipped cleanly when aihwkit-lightning is not installed;
#   3. aihwkit-lightning's speed-test sweep: square layers 128..4608, batch 512, float16, forward +
#      backward + AdamW step: nn.Linear, analogue HWA, lightning (torch and Triton modes).
# Results: results_*.json / results_*.md under $OUT (when set) or benchmarks/results; tables printed.
#
#   bash benchmarks/gpu.sh            # on a machine with CUDA
#   bash benchmarks/gpu.sh --smoke    # tiny sizes on the CPU: proves the script runs
#
# aihwkit-lightning (and triton) may come as wheels: when a .whl/ folder is present they are
# installed into /tmp/site first (see the project's device notes on carrying wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
if [ "${1:-}" = "--smoke" ]; then
  exec $PY benchmarks/bench_gpu.py --smoke
fi
DEVICE=${DEVICE:-cuda}
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: run with --smoke on a CPU')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY benchmarks/bench_gpu.py --device "$DEVICE" --parts models sweep
if $PY -c "import aihwkit_lightning" 2>/dev/null; then
  $PY benchmarks/bench_gpu.py --device "$DEVICE" --parts peer
  if $PY -c "import triton" 2>/dev/null; then
    AIHWKIT_USE_TRITON=1 $PY benchmarks/bench_gpu.py --device "$DEVICE" --parts peer sweep
  else
    echo "triton is not installed: aihwkit-lightning's Triton mode skipped"
  fi
else
  echo "aihwkit-lightning is not installed: the peer parts are skipped"
fi
