#!/usr/bin/env bash
# The GPU check, run on a device machine from the repository root with the folder .gpu carried
# (bench/device/prepare.sh builds it: Node 24, the bench bundle, the runtime packages, Dawn's
# binary, the Vulkan loader). Prints the WebGPU adapter, then `bench ops` and `bench ired` on it
# (paper preset as a full training step) against PyTorch on CUDA. Figures go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
G=$PWD/.gpu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# The Vulkan loader and glvnd (NVIDIA's Vulkan ICD, libGLX_nvidia, needs libGLdispatch).
if ! ldconfig -p | grep -q 'libGLdispatch.so.0 ' || ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
  for f in "$G"/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES=$ICD
xz -dc "$G/node.xz" >/tmp/node && chmod +x /tmp/node
xz -dc "$G/dawn.node.xz" >"$G/node_modules/webgpu/dist/linux-x64/dawn.node"
export X_BENCH_PYTHON=${X_BENCH_PYTHON:-python3}
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nproc
  /tmp/node --version
  $X_BENCH_PYTHON -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
} 2>&1 | tee "$OUT/machine.txt"
cd "$G"
timeout "${OPS_S:-120}" /tmp/node bench.mjs ops --quick --webgpu --threads=1,8 --min-ms=400 2>&1 \
  | grep -v '^running ' | tee "$OUT/ops.txt"
timeout "${IRED_S:-110}" /tmp/node bench.mjs ired --only cpu --webgpu --threads 8 --device cuda --reps 3 2>&1 \
  | tee "$OUT/ired.txt"
timeout "${PAPER_S:-150}" /tmp/node bench.mjs ired --only paper --webgpu --threads none --device cuda --paper-batch 64 --reps 2 2>&1 \
  | tee "$OUT/ired-paper.txt"
