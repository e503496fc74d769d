#!/usr/bin/env bash
# Packs duet-tf as npm would publish it, installs the tarball into a fresh project, and imports
# it there as ESM and as CommonJS: what a user's `npm install duet-tf` gets must work.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"

cd "$work"
npm init -y >/dev/null
tfjs_version=$(node -p "require('$root/node_modules/@tensorflow/tfjs-core/package.json').version")
npm install --no-audit --no-fund --silent "./$tarball" \
  "@tensorflow/tfjs-core@$tfjs_version" "@tensorflow/tfjs-layers@$tfjs_version"

cat > esm.mjs <<'JS'
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { duetWrap, splitDuet, useBackend } from 'duet-tf';
const backend = await useBackend('auto');
const x = tfl.input({ shape: [4] });
const y = tfl.layers.dense({ units: 1, name: 'out' }).apply(x);
const duet = duetWrap(tfl.model({ inputs: x, outputs: y }), { condition: { length: 3 }, generator: { vocabSize: 10 } });
const { generator, device } = splitDuet(duet);
const out = device.predict([tf.ones([2, 4]), generator.predict(tf.tensor2d([[1, 2, 0], [3, 0, 0]]))]);
if (out.shape.join() !== '2,1') throw new Error(`unexpected output shape ${out.shape}`);
console.log(`ESM import ok (backend ${backend})`);
const deviceEntry = await import('duet-tf/device');
if (typeof deviceEntry.createDeviceRuntime !== 'function') throw new Error('duet-tf/device has no createDeviceRuntime');
console.log('ESM import of duet-tf/device ok');
JS
cat > cjs.cjs <<'JS'
const duet = require('duet-tf');
for (const name of ['duetWrap', 'splitDuet', 'DynamicDense', 'ParameterGenerator', 'useBackend']) {
  if (typeof duet[name] !== 'function') throw new Error(`require('duet-tf').${name} is ${typeof duet[name]}`);
}
if (typeof require('duet-tf/device').decodePayload !== 'function') throw new Error('duet-tf/device: no decodePayload');
duet.useBackend('cpu').then((b) => console.log(`CJS require ok (backend ${b})`));
JS
# The command line ships as the package's bin, with the training worker thread beside it.
npx --no-install duet-tf --help | head -1
npx --no-install duet-tf prepare --synthetic --users 40 --items 30 --out data >/dev/null
npx --no-install duet-tf train --model sasrec --data data --epochs 1 --batch 64 --dim 8 --backend cpu \
  --threads 2 --out model --json 2>train.log
grep -q '2 threads' train.log || { cat train.log; echo 'train --threads 2 did not run on 2 threads'; exit 1; }
echo 'CLI train --threads 2 ok'
# The service from the installed bin, its generator in the thread the package ships (serve_worker.js).
npx --no-install duet-tf train --model sasrec --variant duet --data data --epochs 1 --batch 64 --dim 8 \
  --backend cpu --threads 1 --out duet --json 2>/dev/null >/dev/null
./node_modules/.bin/duet-tf serve --model-dir duet --port 0 --backend cpu 2>serve.log &
serve_pid=$!
for _ in $(seq 1 120); do grep -q 'listening on http' serve.log && break; sleep 0.5; done
url=$(grep -o 'listening on http://[0-9.:]*' serve.log | head -n 1 | sed 's/listening on //') \
  || { cat serve.log; kill "$serve_pid" 2>/dev/null; echo 'serve did not start'; exit 1; }
grep -q 'generator thread)' serve.log || { cat serve.log; kill "$serve_pid"; echo 'serve did not start its generator thread'; exit 1; }
node -e "fetch(process.argv[1] + '/v1/parameters', { method: 'POST', headers: { accept: 'application/json' }, body: JSON.stringify({ sequence: [1, 2], ids: 'internal' }) })
  .then(async (r) => { const b = await r.json(); if (r.status !== 200 || !Array.isArray(b.parameters)) throw new Error(JSON.stringify(b)); })" "$url" \
  || { cat serve.log; kill "$serve_pid"; echo 'serve did not answer'; exit 1; }
kill -TERM "$serve_pid"
wait "$serve_pid" || { cat serve.log; echo 'serve did not exit 0 on SIGTERM'; exit 1; }
echo 'CLI serve (generator thread) ok'
node esm.mjs
node cjs.cjs
