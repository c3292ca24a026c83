#!/usr/bin/env bash
# The CUDA paths in one go (issue 15): the device tests, the default check of the built-ins on cuda (the batched
# search and the input forms on the device included), the zoo's cuda entry, and the search benchmark.
# Needs a CUDA build of torch and a GPU; run from the repository root: tools/gpu_check.sh
# Not run in the session that wrote it (no GPU there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: torch.cuda.is_available() is False')"
echo "== device tests"
"$PY" -m pytest -q tests/adapters/test_devices.py
echo "== default check on cuda"
for target in maskoracle.implementations.torch:block_causal maskoracle.implementations.torch:block_causal_baseline \
              maskoracle.implementations.torch:block_causal_additive; do
    "$PY" -m maskoracle check "$target" --device cuda --seed 0 --plain --json "/tmp/gpu_check_${target##*:}.json"
done
echo "== the zoo entry that needs cuda (numpy_round_trip_on_cpu must be killed by result_device)"
"$PY" -m maskoracle selftest --only numpy_round_trip_on_cpu --plain
echo "== FlexAttention kinds on cuda"
"$PY" -m maskoracle check maskoracle.implementations.flex:block_causal_mask_mod --kind mask_mod --device cuda \
    --seed 0 --plain || echo "(mask_mod on cuda: see the output above)"
echo "gpu_check: done"
