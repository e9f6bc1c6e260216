// Regenerates the reference outputs in tests/vision/golden/ (issue 2 golden
// tests): the tfjs graph models run by pure-JS @tensorflow/tfjs@4.22.0 on its
// CPU backend, the descriptor by face-api@1.7.15's own FaceRecognitionNet on
// the same backend. Inputs are the raw RGB files made by make_inputs.cc.
// Usage (see README.md): NODE_PATH=<modules> node generate.js MODEL_DIR GOLDEN_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const [modelDir, goldenDir] = process.argv.slice(2);
if (!modelDir || !goldenDir) {
  console.error('usage: node generate.js MODEL_DIR GOLDEN_DIR');
  process.exit(2);
}

function readRgb(name, size) {
  const bytes = fs.readFileSync(path.join(goldenDir, name));
  if (bytes.length !== size * size * 3) throw new Error(`${name}: expected ${size}x${size}x3 bytes`);
  return tf.tensor4d(Float32Array.from(bytes), [1, size, size, 3], 'float32');
}

function writeF32(name, arrays) {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const out = new Float32Array(total);
  let off = 0;
  for (const a of arrays) { out.set(a, off); off += a.length; }
  fs.writeFileSync(path.join(goldenDir, name), Buffer.from(out.buffer));
  console.log(`${name}: ${total} floats`);
}

async function loadGraph(file) {
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, file), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy,
      convertedBy: json.convertedBy, signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata, weightSpecs: specs, weightData,
    }),
  });
}

// Same normalisation as @vladmandic/human: blazeface x/127.5-1, others x/255.
const graphs = [
  { file: 'blazeface.json', size: 256, norm: (x) => tf.sub(tf.div(x, 127.5), 1),
    outputs: ['Identity', 'Identity_1', 'Identity_2', 'Identity_3'], name: 'blazeface' },
  { file: 'facemesh.json', size: 192, norm: (x) => tf.div(x, 255),
    outputs: ['Identity_2', 'Identity_1'], name: 'facemesh' },
  { file: 'iris.json', size: 64, norm: (x) => tf.div(x, 255), outputs: ['Identity'], name: 'iris' },
  { file: 'antispoof.json', size: 128, norm: (x) => tf.div(x, 255), outputs: ['Identity'], name: 'antispoof' },
  { file: 'liveness.json', size: 32, norm: (x) => tf.div(x, 255), outputs: ['Identity'], name: 'liveness' },
];

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  console.log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, face-api ${faceapi.version}`);
  for (const g of graphs) {
    const model = await loadGraph(g.file);
    const input = g.norm(readRgb(`${g.name}_input.rgb`, g.size));
    let outs = model.execute(input, g.outputs);
    if (!Array.isArray(outs)) outs = [outs];
    writeF32(`${g.name}_ref.f32`, outs.map((t) => t.dataSync()));
  }
  // FaceMesh on a crop without a centred face (top-left 192x192 of the
  // BlazeFace input, cut exactly): a low, unsaturated face flag.
  {
    const model = await loadGraph('facemesh.json');
    const crop = tf.slice(readRgb('blazeface_input.rgb', 256), [0, 0, 0, 0], [1, 192, 192, 3]);
    const outs = model.execute(tf.div(crop, 255), ['Identity_2', 'Identity_1']);
    writeF32('facemesh_noface_ref.f32', outs.map((t) => t.dataSync()));
  }
  // faceres (not wired to a model class; exercises Conv2D, Mean, Minimum/
  // Maximum and per-channel Mul/Add in the translator): the 224x224 centre
  // of the BlazeFace input, cut exactly (no resampling), x/255.
  {
    const model = await loadGraph('faceres.json');
    const crop = tf.slice(readRgb('blazeface_input.rgb', 256), [0, 16, 16, 0], [1, 224, 224, 3]);
    const outs = model.execute(tf.div(crop, 255), ['global_pooling/Mean', 'gender_pred/Sigmoid', 'age_pred/Softmax']);
    writeF32('faceres_ref.f32', outs.map((t) => t.dataSync()));
  }
  // face-api's own network; weights decoded by tfjs from face-api's manifest.
  if (faceapi.tf !== undefined && faceapi.tf.getBackend() !== 'cpu') await faceapi.tf.setBackend('cpu');
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'face_recognition_model-weights_manifest.json'), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightMap = tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.length), specs);
  const net = faceapi.nets.faceRecognitionNet;
  net.loadFromWeightMap(weightMap);
  for (const id of ['a', 'b']) {
    const img = readRgb(`descriptor_input_${id}.rgb`, 150).squeeze([0]);
    const desc = await net.computeFaceDescriptor(img);
    writeF32(`descriptor_ref_${id}.f32`, [desc]);
    console.log(`  descriptor ${id} on backend ${tf.getBackend()}, same tfjs as face-api: ${faceapi.tf === undefined || faceapi.tf.getBackend === tf.getBackend}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
