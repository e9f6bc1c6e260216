// Side-by-side speed comparison, the JavaScript half: times
//   face-api  @vladmandic/face-api@1.7.15 : SSD-MobileNetV1 + 68 landmarks + descriptor
//   human     @vladmandic/human@3.3.6     : BlazeFace + FaceMesh + faceres (description)
// under node on @tensorflow/tfjs-backend-wasm@4.22.0, one wasm thread, on the
// raw RGB frames that compare_js_livegate decoded and dumped (so no JPEG
// decode is timed anywhere). One library per process (run.sh starts one
// each), so the two libraries never share a tfjs engine.
//
//   node bench_js.mjs --lib face-api|human --frames DIR --modules NODE_MODULES
//        [--seconds S] [--min-passes N] [--max-faces K]
// Prints one JSON object on stdout.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const lib = opt('--lib');
const framesDir = opt('--frames');
const modules = path.resolve(opt('--modules', path.join(process.cwd(), 'node_modules')));
const seconds = Number(opt('--seconds', '10'));
const minPasses = Number(opt('--min-passes', '3'));
const maxFaces = Number(opt('--max-faces', '20'));
if (!['face-api', 'human'].includes(lib) || !framesDir) {
  console.error('usage: node bench_js.mjs --lib face-api|human --frames DIR --modules NODE_MODULES');
  process.exit(2);
}
const require = createRequire(path.join(modules, 'noop.js'));

const index = JSON.parse(fs.readFileSync(path.join(framesDir, 'frames.json'), 'utf8'));
const sets = new Map();
for (const f of index) {
  const data = new Uint8Array(fs.readFileSync(path.join(framesDir, f.file)));
  if (!sets.has(f.set)) sets.set(f.set, []);
  sets.get(f.set).push({ ...f, data });
}

let tf;
let analyse;  // async (frame) -> number of faces with a descriptor
let config;

if (lib === 'face-api') {
  const faceapi = require(path.join(modules, '@vladmandic/face-api/dist/face-api.node-wasm.js'));
  tf = faceapi.tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  const modelDir = path.join(modules, '@vladmandic/face-api/model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: maxFaces });
  config = `SSD-MobileNetV1 (minConfidence 0.5, maxResults ${maxFaces}) + faceLandmark68Net + faceRecognitionNet`;
  analyse = async (f) => {
    const t = tf.tensor3d(f.data, [f.height, f.width, 3], 'int32');
    const r = await faceapi.detectAllFaces(t, options).withFaceLandmarks().withFaceDescriptors();
    t.dispose();
    return r.length;
  };
} else {
  // human's node-wasm build loads models with fetch(), and node's fetch does
  // not implement file:// URLs: serve them from disk (no network involved).
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => {
    const u = typeof url === 'string' ? url : (url.url ?? String(url));
    if (u.startsWith('file://')) return new Response(fs.readFileSync(new URL(u)), { status: 200 });
    return realFetch(url, init);
  };
  const H = require(path.join(modules, '@vladmandic/human/dist/human.node-wasm.js'))  // its exports map lacks './' keys;
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount(1);
  const human = new H.Human({
    backend: 'wasm',
    // Local wasm binaries (human's default is a CDN URL; no network at run time).
    wasmPath: path.join(modules, '@tensorflow/tfjs-backend-wasm/dist') + '/',
    modelBasePath: 'file://' + path.join(modules, '@vladmandic/human/models') + '/',
    debug: false,
    async: false,
    warmup: 'none',
    cacheSensitivity: 0,   // no result caching between calls: full work every frame
    skipAllowed: false,
    filter: { enabled: false },
    gesture: { enabled: false },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    segmentation: { enabled: false },
    face: {
      enabled: true,
      detector: { maxDetected: maxFaces, skipFrames: 0, skipTime: 0, rotation: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      attention: { enabled: false },
      emotion: { enabled: false },
      description: { enabled: true, skipFrames: 0, skipTime: 0 },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
  });
  await human.load();
  tf = human.tf;
  config = `BlazeFace (maxDetected ${maxFaces}, default minConfidence 0.2) + FaceMesh + faceres; iris, emotion, body, hand off; cacheSensitivity 0`;
  analyse = async (f) => {
    const t = tf.tensor3d(f.data, [f.height, f.width, 3], 'int32');
    const r = await human.detect(t);
    t.dispose();
    if (r.error) throw new Error(r.error);
    return r.face.filter((x) => x.embedding && x.embedding.length > 0).length;
  };
}

const out = { library: lib, backend: tf.getBackend(), wasm_threads: 1, config, sets: [] };
for (const [name, frames] of sets) {
  const perImage = [];
  for (const f of frames) perImage.push(await analyse(f));  // warm-up pass
  let passes = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (passes < minPasses || elapsed < seconds) {
    for (const f of frames) await analyse(f);
    passes++;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  const cu = process.cpuUsage(c0);
  const cpu = (cu.user + cu.system) / 1e6;  // whole process: wasm + GC + tfjs glue
  const n = passes * frames.length;
  const faces = perImage.reduce((a, b) => a + b, 0);
  out.sets.push({
    set: name,
    images: frames.length,
    passes,
    seconds: elapsed,
    images_per_second: n / elapsed,
    ms_per_image: (1000 * elapsed) / n,
    cpu_seconds: cpu,
    images_per_cpu_second: n / cpu,
    cpu_ms_per_image: (1000 * cpu) / n,
    faces_per_cpu_second: (passes * faces) / cpu,
    faces_with_descriptor: faces,
    faces_per_image: perImage,
  });
}
console.log(JSON.stringify(out));
