#!/usr/bin/env bash
# Packs @qdeploy/core, @qdeploy/backend-tensorrt, @qdeploy/backend-reference and
# @qdeploy/calibrators with `npm pack`, installs the tarballs into a scratch CommonJS
# project outside the repository, require()s every package from it, writes a
# qdeploy.config.json there that names the backend by its package name, and runs
# `npx qdeploy run` in it on a fixture model: the published packages must plug into each
# other exactly as a user's would. Exit 0 when the quantized model is written and loads.
#
#   scripts/pack-plugin-test.sh            (builds the packages first when dist/ is missing)
#   KEEP=1 scripts/pack-plugin-test.sh     (keep the scratch folder for a look)
#
# Dependencies come from the npm cache when it has them (--prefer-offline), otherwise
# from the registry; install scripts are skipped (onnxruntime-node ships its CPU binaries
# in the package; its postinstall only fetches optional GPU libraries).
set -euo pipefail

started=$(date +%s)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/qdeploy-pack-XXXXXX")"
cleanup() {
  if [[ "${KEEP:-}" == "1" ]]; then echo "pack-plugin-test: scratch folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { printf 'pack-plugin-test: %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }
fail() { echo "pack-plugin-test: FAILED: $*" >&2; exit 1; }

packages=(core calibrators backend-tensorrt backend-reference)

# 1. Build what is not built yet (CI runs this after `npm test`, which builds everything).
for p in "${packages[@]}"; do
  if [[ ! -f "$root/packages/$p/dist/index.js" ]]; then
    step "building packages/$p"
    (cd "$root/packages/$p" && npx --no-install tsc -p tsconfig.json)
  fi
done
[[ -f "$root/packages/core/dist/cli/bin.js" ]] || fail "packages/core/dist/cli/bin.js is missing after the build"

# 2. npm pack each package.
mkdir -p "$work/tarballs"
tarballs=()
for p in "${packages[@]}"; do
  name=$(cd "$root/packages/$p" && npm pack --silent --pack-destination "$work/tarballs" 2>/dev/null | tail -n 1)
  [[ -f "$work/tarballs/$name" ]] || fail "npm pack packages/$p produced no tarball"
  tarballs+=("$work/tarballs/$name")
done
# The example third-party backend (examples/backend-example), packed the same way.
name=$(cd "$root/examples/backend-example" && npm pack --silent --pack-destination "$work/tarballs" 2>/dev/null | tail -n 1)
[[ -f "$work/tarballs/$name" ]] || fail "npm pack examples/backend-example produced no tarball"
tarballs+=("$work/tarballs/$name")
step "packed: $(cd "$work/tarballs" && ls | tr '\n' ' ')"
tar -tzf "$work/tarballs/"qdeploy-core-*.tgz > "$work/core-files.txt"
grep -qx 'package/dist/cli/bin.js' "$work/core-files.txt" || fail "the core tarball has no dist/cli/bin.js"
grep -qx 'package/bin/qdeploy.js' "$work/core-files.txt" || fail "the core tarball has no bin/qdeploy.js"
grep -qx 'package/schema/qdeploy.config.schema.json' "$work/core-files.txt" || fail "the core tarball has no schema/qdeploy.config.schema.json"

# 3. A scratch project outside the repository, with the tarballs installed.
project="$work/project"
mkdir -p "$project"
cat > "$project/package.json" <<'JSON'
{ "name": "qdeploy-pack-test", "private": true, "version": "0.0.0", "type": "commonjs" }
JSON
printf 'fund=false\naudit=false\nupdate-notifier=false\n' > "$project/.npmrc"
(
  cd "$project"
  npm install --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error "${tarballs[@]}"
) || fail "npm install of the tarballs failed"
for p in core backend-tensorrt backend-reference calibrators; do
  [[ -f "$project/node_modules/@qdeploy/$p/package.json" ]] || fail "@qdeploy/$p is not installed in the scratch project"
  [[ ! -L "$project/node_modules/@qdeploy/$p" ]] || fail "@qdeploy/$p is a symlink: it must be the installed tarball"
done
[[ -x "$project/node_modules/.bin/qdeploy" ]] || fail "the qdeploy bin is not linked"
[[ -f "$project/node_modules/qdeploy-backend-example/index.js" ]] || fail "qdeploy-backend-example is not installed in the scratch project"
step "installed into $project"

# 3b. CommonJS: the project is "type": "commonjs"; every package must require() and a
# whole quantization must run from a .js (CommonJS) script, data given as typed arrays.
cp "$root/fixtures/fmnist_resnet_bn.onnx" "$project/cjs-model.onnx"
cat > "$project/cjs-check.js" <<'JS'
const assert = require('node:assert');
const core = require('@qdeploy/core');
const calibrators = require('@qdeploy/calibrators');
const { TENSORRT_PATTERNS } = require('@qdeploy/backend-tensorrt');
const reference = require('@qdeploy/backend-reference');
assert.strictEqual(typeof core.loadModel, 'function');
assert.strictEqual(typeof reference.default.register, 'function');
(async () => {
  await core.usePlugin(calibrators);
  const { model, matches } = core.transform(core.loadModel('cjs-model.onnx'), { patterns: TENSORRT_PATTERNS });
  const q = core.insertQdq(model, matches);
  const images = new Float32Array(8 * 28 * 28).map((_, i) => (i % 97) / 97);
  const r = await core.calibrate(q, core.toForwardLoop(core.arraySource(images, { shape: [8, 1, 28, 28], batchSize: 4 })), { method: 'MinMax' });
  assert.strictEqual(r.batches, 2);
  assert.strictEqual(r.method, 'minmax');
  await core.saveModel(q, 'cjs-model.int8.onnx');
  console.log('pack-plugin-test: CommonJS require() of all packages and a quantization from a .js script: OK');
})().catch((e) => { console.error(e); process.exit(1); });
JS
(cd "$project" && node cjs-check.js) || fail "the packages do not work from CommonJS"
[[ -s "$project/cjs-model.int8.onnx" ]] || fail "the CommonJS script wrote no model"

# 4. A config file next to a fixture model and a little calibration data.
cp "$root/fixtures/fmnist_resnet_bn.onnx" "$project/model.onnx"
cp "$root/packages/core/test/fixtures/cli/calib_32.npy" "$project/calib.npy"
cat > "$project/qdeploy.config.json" <<'JSON'
{
  "model": "model.onnx",
  "output": "build/model.int8.onnx",
  "backend": "@qdeploy/backend-tensorrt",
  "plugins": ["@qdeploy/calibrators"],
  "calibration": { "data": "calib.npy", "method": "entropy", "batchSize": 16 }
}
JSON

# 5. Run it the way a user would.
(
  cd "$project"
  QDEPLOY_NO_PROGRESS=1 npx --no-install qdeploy run
) | tee "$work/run.log" || fail "qdeploy run failed"
out="$project/build/model.int8.onnx"
[[ -s "$out" ]] || fail "no output model at $out"
grep -q 'quantized for tensorrt' "$work/run.log" || fail "the run did not report a TensorRT quantization"
grep -q 'calibration  entropy on 32 samples' "$work/run.log" || fail "the run did not calibrate with entropy on 32 samples"

# The output is a QDQ model onnxruntime (from the scratch project's own install) loads,
# and the installed packages were the ones used (nothing resolved back into the repo).
(
  cd "$project"
  node --input-type=module -e "
    import * as ort from 'onnxruntime-node';
    import { loadModel } from '@qdeploy/core';
    const m = loadModel('build/model.int8.onnx');
    const ops = m.graph.opCounts();
    if (!(ops.QuantizeLinear > 0 && ops.DequantizeLinear > 0)) throw new Error('no Q/DQ nodes in the output');
    const s = await ort.InferenceSession.create('build/model.int8.onnx');
    const out = await s.run({ input: new ort.Tensor('float32', new Float32Array(784), [1, 1, 28, 28]) });
    if (out[s.outputNames[0]].dims.join() !== '1,10') throw new Error('unexpected output shape');
    console.log('pack-plugin-test: output loads in onnxruntime:', ops.QuantizeLinear, 'QuantizeLinear,', ops.DequantizeLinear, 'DequantizeLinear');
  "
) || fail "the output model does not load"
# 6. The example backend from its tarball, named by the convention ("example" →
# qdeploy-backend-example); it lists no conversions, so core's standard ones fold the BNs.
(
  cd "$project"
  QDEPLOY_NO_PROGRESS=1 npx --no-install qdeploy quantize model.onnx --backend example --calib calib.npy -o build/example.int8.onnx
) | tee "$work/example.log" || fail "qdeploy quantize --backend example failed"
grep -q 'quantized for example' "$work/example.log" || fail "the example backend was not used"
grep -q 'FoldBatchNorm ×15' "$work/example.log" || fail "the example backend did not get the standard conversions (BatchNorm folding)"
[[ -s "$project/build/example.int8.onnx" ]] || fail "the example backend wrote no model"
step "example backend from its tarball: OK"

if grep -rq "$root" "$project/node_modules/@qdeploy" 2>/dev/null; then fail "an installed package refers to the repository"; fi

step "OK: $(du -h "$out" | cut -f1) written by the packed packages"
