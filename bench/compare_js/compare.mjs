// Combines the three runners' JSON into one table with the speed ratios
// (targets from issue 2: >= 10x face-api, >= 4x human). --json prints it all.
import fs from 'node:fs';
import os from 'node:os';

const files = process.argv.slice(2).filter((a) => a !== '--json');
const asJson = process.argv.includes('--json');
const [ours, faceapi, human] = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const targets = { 'face-api': 10, human: 4 };
const rows = [];
for (const s of ours.sets) {
  const row = { set: s.set, images: s.images, livegate: s };
  for (const other of [faceapi, human]) {
    const o = other.sets.find((x) => x.set === s.set);
    row[other.library] = o;
    row[`ratio_vs_${other.library}`] = o ? s.images_per_second / o.images_per_second : null;
    row[`cpu_ratio_vs_${other.library}`] = o ? s.images_per_cpu_second / o.images_per_cpu_second : null;
    row[`per_face_cpu_ratio_vs_${other.library}`] = o ? s.faces_per_cpu_second / o.faces_per_cpu_second : null;
    row[`target_vs_${other.library}`] = targets[other.library];
  }
  rows.push(row);
}
const result = {
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  decode: 'images decoded once by OpenCV (EXIF honoured) and passed as raw RGB; decode not timed',
  threads: 'single-threaded: cv::setNumThreads(1); tfjs wasm setThreadsCount(1)',
  configs: { livegate: ours.config, 'face-api': faceapi.config, human: human.config },
  sets: rows,
};
if (asJson) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (x, d = 1) => (x == null || !isFinite(x) ? 'n/a' : x.toFixed(d));
  console.log('set            images  livegate img/s (ms)  face-api img/s (ms)  human img/s (ms)  x face-api (>=10)  x human (>=4)  faces lg/fa/hu');
  for (const r of rows) {
    const c = (o) => `${f(o?.images_per_second, 2)} (${f(o?.ms_per_image)})`;
    console.log(
      `${r.set.padEnd(14)} ${String(r.images).padStart(6)}  ${c(r.livegate).padEnd(19)}  ${c(r['face-api']).padEnd(19)}  ` +
      `${c(r.human).padEnd(16)}  ${f(r['ratio_vs_face-api'], 2).padEnd(17)}  ${f(r.ratio_vs_human, 2).padEnd(13)}  ` +
      `${r.livegate.faces_with_descriptor}/${r['face-api']?.faces_with_descriptor}/${r.human?.faces_with_descriptor}`);
  }
  console.log('\nCPU time (process CPU seconds; robust to other load on a shared machine):');
  console.log('set            livegate CPU ms/img  face-api CPU ms/img  human CPU ms/img  x face-api (>=10)  x human (>=4)  per-face x fa / x hu');
  for (const r of rows) {
    console.log(
      `${r.set.padEnd(14)} ${f(r.livegate.cpu_ms_per_image).padEnd(19)}  ${f(r['face-api']?.cpu_ms_per_image).padEnd(19)}  ` +
      `${f(r.human?.cpu_ms_per_image).padEnd(16)}  ${f(r['cpu_ratio_vs_face-api'], 2).padEnd(17)}  ${f(r.cpu_ratio_vs_human, 2).padEnd(13)}  ` +
      `${f(r['per_face_cpu_ratio_vs_face-api'], 2)} / ${f(r.per_face_cpu_ratio_vs_human, 2)}`);
  }
  console.log(result.decode + '; ' + result.threads);
}
