#!/usr/bin/env bash
# One device session's checks (see /work/.library/device): the CUDA paths of the metric engine
# and the protocol, the gpu-marked training tests, and the metric benchmark with CUDA.
# Runs on the device image's python3 (torch, numpy, opencv, pandas, pytest), from the repo root:
#   bash benchmarks/gpu_check.sh        (logs and JSON go to $OUT, or ./gpu_check_out)
set -o pipefail
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/metrics/test_metrics_engine.py \
  tests/metrics/test_metrics_protocol.py tests/metrics/test_metrics_kernels.py \
  tests/training/test_training_runtime.py -rs 2>&1 | tee "$OUT/pytest.log"
tests_rc=$?
python3 benchmarks/metrics_bench.py --device all --repeat 2 --out "$OUT/metrics_bench_all.json" \
  2>&1 | grep -v "^W" | tee "$OUT/bench_all.log"
python3 benchmarks/metrics_bench.py --device all --repeat 2 --metrics paper \
  --out "$OUT/metrics_bench_paper.json" 2>&1 | grep -v "^W" | tee "$OUT/bench_paper.log"
echo "pytest rc=$tests_rc"
exit $tests_rc
