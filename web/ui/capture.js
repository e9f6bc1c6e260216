// Camera, environment guidance and the challenge capture of the browser
// client (X.1279 7.2: R-CLI-ENV-1 environment detection, R-CLI-QD-1 local
// quality, the capture package of decisions 11.4 and 11.8).
//
// Guidance: a cheap in-page measure on a 160x120 copy of each frame — mean
// light in the guide oval and around it (too dark / too bright / backlit)
// and movement — every ~100 ms. Face present / size / centred come from the
// browser's built-in FaceDetector when it has one (Shape Detection API; not in
// desktop Chromium by default), timed per frame; otherwise the person is
// asked to fill the oval and the server's answers (a re-capture with
// quality.no_face, quality.too_small, ...) carry the face checks. No model is
// downloaded into the page: docs/WEB.md explains the choice and the figures.
import { ProtocolError } from '../lib/bytes.js';

const SMALL_W = 160;
const SMALL_H = 120;
// The guide oval (also drawn by app.css): centre of the frame, 44% of the
// width, 76% of the height. The face crop is the square around it.
export const GUIDE = { cx: 0.5, cy: 0.5, w: 0.44, h: 0.76 };
const ENV = {
  minLight: 70, maxLight: 215,  // mean luma in the oval (src/client/environment.h)
  maxBacklight: 80,             // surroundings minus oval
  maxMotion: 14,                // mean absolute luma change per pixel between checks
  steadyChecks: 4,              // consecutive good checks before capture
  minFaceWidth: 0.09, maxFaceWidth: 0.8, maxCentreOffset: 0.22,
};

export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw new ProtocolError('camera.unsupported', 'no getUserMedia');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
    });
  } catch (e) {
    const reason = e.name === 'NotAllowedError' || e.name === 'SecurityError' ? 'camera.denied'
      : e.name === 'NotFoundError' || e.name === 'OverconstrainedError' ? 'camera.not_found'
        : e.name === 'NotReadableError' ? 'camera.in_use' : 'camera.unsupported';
    throw new ProtocolError(reason, e.message);
  }
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play();
  if (!video.videoWidth) await new Promise((r) => video.addEventListener('loadedmetadata', r, { once: true }));
  return stream;
}

export function closeCamera(video) {
  const s = video.srcObject;
  if (s) for (const t of s.getTracks()) t.stop();
  video.srcObject = null;
}

function lumaOf(data, i) { return 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]; }

// One cheap measure of the current frame.
export class FrameMeter {
  constructor() {
    this.canvas = document.createElement('canvas');
    this.canvas.width = SMALL_W;
    this.canvas.height = SMALL_H;
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    this.prev = null;
    this.detector = typeof globalThis.FaceDetector === 'function' ? new globalThis.FaceDetector({ fastMode: true, maxDetectedFaces: 2 }) : null;
    this.detectorMs = [];
  }

  async measure(video) {
    this.ctx.drawImage(video, 0, 0, SMALL_W, SMALL_H);
    const { data } = this.ctx.getImageData(0, 0, SMALL_W, SMALL_H);
    const luma = new Float32Array(SMALL_W * SMALL_H);
    let inSum = 0, inN = 0, outSum = 0, outN = 0, motion = 0;
    for (let y = 0; y < SMALL_H; ++y) {
      for (let x = 0; x < SMALL_W; ++x) {
        const k = y * SMALL_W + x;
        const l = lumaOf(data, 4 * k);
        luma[k] = l;
        const dx = (x / SMALL_W - GUIDE.cx) / (GUIDE.w / 2), dy = (y / SMALL_H - GUIDE.cy) / (GUIDE.h / 2);
        if (dx * dx + dy * dy <= 0.6) { inSum += l; ++inN; } else if (dx * dx + dy * dy > 1.3) { outSum += l; ++outN; }
        if (this.prev) motion += Math.abs(l - this.prev[k]);
      }
    }
    // Sharpness: variance of a 4-neighbour Laplacian in the oval.
    let lapSum = 0, lapSq = 0, lapN = 0;
    for (let y = SMALL_H * 0.2 | 0; y < SMALL_H * 0.8; ++y) {
      for (let x = SMALL_W * 0.32 | 0; x < SMALL_W * 0.68; ++x) {
        const k = y * SMALL_W + x;
        const v = 4 * luma[k] - luma[k - 1] - luma[k + 1] - luma[k - SMALL_W] - luma[k + SMALL_W];
        lapSum += v; lapSq += v * v; ++lapN;
      }
    }
    const m = {
      light: inN ? inSum / inN : 0,
      surroundings: outN ? outSum / outN : 0,
      motion: this.prev ? motion / luma.length : 0,
      sharpness: lapN ? lapSq / lapN - (lapSum / lapN) ** 2 : 0,
      face: null,
    };
    this.prev = luma;
    if (this.detector) {
      const t0 = performance.now();
      try {
        const faces = await this.detector.detect(video);
        m.faces = faces.length;
        if (faces.length) {
          const b = faces[0].boundingBox;
          m.face = { x: b.x / video.videoWidth, y: b.y / video.videoHeight, w: b.width / video.videoWidth, h: b.height / video.videoHeight };
        }
      } catch { this.detector = null; }
      this.detectorMs.push(performance.now() - t0);
    }
    // 0..1 like ScoreFrameQuality: exposure and sharpness (saturating).
    const exposure = 1 - Math.min(1, Math.abs(m.light - 128) / 128);
    m.quality = Math.max(0, Math.min(1, 0.5 * exposure + 0.5 * Math.min(1, m.sharpness / 300)));
    return m;
  }
}

// Issues with a stable code (the C++ client's env.* codes) and advice.
export function environmentIssues(m, hasDetector) {
  const out = [];
  if (m.light < ENV.minLight) out.push({ code: 'env.too_dark', text: 'Your face is too dark: turn on a light or face a window.' });
  else if (m.light > ENV.maxLight) out.push({ code: 'env.too_bright', text: 'Too bright: move away from direct light.' });
  if (m.surroundings - m.light > ENV.maxBacklight) out.push({ code: 'env.backlit', text: 'The light is behind you: turn so the light falls on your face.' });
  if (m.motion > ENV.maxMotion) out.push({ code: 'env.moving', text: 'Hold still for a moment.' });
  if (hasDetector) {
    if (m.faces === 0) out.push({ code: 'env.no_face', text: 'No face found: look straight at the camera.' });
    else if (m.faces > 1) out.push({ code: 'env.many_faces', text: 'Only one person, please.' });
    else if (m.face) {
      if (m.face.w < ENV.minFaceWidth) out.push({ code: 'env.too_far', text: 'Come closer to the camera.' });
      else if (m.face.w > ENV.maxFaceWidth) out.push({ code: 'env.too_close', text: 'Move back a little.' });
      const off = Math.max(Math.abs(m.face.x + m.face.w / 2 - 0.5), Math.abs(m.face.y + m.face.h / 2 - 0.5));
      if (off > ENV.maxCentreOffset) out.push({ code: 'env.off_centre', text: 'Move your face into the oval.' });
    }
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Guidance before capture: returns when the conditions held for a few
// consecutive checks; throws env.timeout after `timeoutMs`.
export async function guideEnvironment(video, ui, { timeoutMs = 45000, signal } = {}) {
  const meter = new FrameMeter();
  const t0 = performance.now();
  let good = 0;
  const meterMs = [];
  while (performance.now() - t0 < timeoutMs) {
    if (signal?.aborted) throw new ProtocolError('client.cancelled', 'cancelled');
    const tm = performance.now();
    const m = await meter.measure(video);
    meterMs.push(performance.now() - tm);
    const issues = environmentIssues(m, !!meter.detector);
    good = issues.length ? 0 : good + 1;
    ui.guidance(issues, m, !!meter.detector);
    if (good >= ENV.steadyChecks) return { measure: m, detectorMs: meter.detectorMs, meterMs, hasDetector: !!meter.detector };
    await sleep(100);
  }
  throw new ProtocolError('env.timeout', 'conditions not met');
}

function hexOf(rgb) { return rgb.toLowerCase(); }

// Encodes the face region of the current video frame as a JPEG (canvas
// encoders write JFIF only: no EXIF, no location, no camera model).
async function encodeCrop(video, side, quality) {
  const vw = video.videoWidth, vh = video.videoHeight;
  // The square around the guide oval, within the frame (the C++ client crops
  // the face box plus 50% margin; without a detector the oval stands in).
  const s = Math.min(vw, vh, Math.round(Math.max(GUIDE.w * vw, GUIDE.h * vh) * 1.15));
  const sx = Math.round(vw * GUIDE.cx - s / 2), sy = Math.round(vh * GUIDE.cy - s / 2);
  const c = document.createElement('canvas');
  const out = Math.min(side, s);
  c.width = out;
  c.height = out;
  c.getContext('2d').drawImage(video, Math.max(0, sx), Math.max(0, sy), s, s, 0, 0, out, out);
  return { canvas: c, blob: await new Promise((r) => c.toBlob(r, 'image/jpeg', quality)) };
}

// Runs the challenge: prompts with progress and countdown, the colour
// sequence full-screen at the challenge's times, frames sampled evenly (at
// most procedure.max_frames, at least 66 ms apart; at the camera's rate in
// blink windows: planSamples). Frame t_ms and the
// colour windows share one origin: the first captured frame, as the server's
// judgement reads them. Returns the capture and a log of what was drawn.
export async function performChallenge(video, procedure, ui) {
  const ch = procedure.challenge;
  const duration = ch.duration_ms;
  const maxFrames = Math.max(1, procedure.max_frames || 24);
  const side = Math.min(480, procedure.max_frame_side || 480);
  const maxBytes = procedure.max_frame_bytes || 262144;
  const colours = ch.colours || [];
  const steps = ch.steps || [];
  const meter = new FrameMeter();
  const pending = [];
  const frames = [];
  const drawLog = [];
  let lastShown = null;
  let t0 = null;
  const plan = planSamples(duration, maxFrames, colours, { blinkWindows: blinkWindows(ch) });
  let nextPlanned = 0;
  const useVfc = typeof video.requestVideoFrameCallback === 'function';

  return new Promise((resolve, reject) => {
    const onFrame = (now) => {
      try {
        if (t0 === null) t0 = now;
        // Whole milliseconds: the same number decides the colour and is sent as t_ms.
        const t = Math.round(now - t0);
        if (t > duration) {
          ui.colour(null);
          Promise.all(pending).then(() => resolve(finish())).catch(reject);
          return;
        }
        // Colour on screen now (the window containing t), drawn before the
        // frame is taken so the record says what lit the face.
        const c = colours.find((s) => t >= s.start_ms && t < s.end_ms) || null;
        const rgb = c ? hexOf(c.rgb) : null;
        if (rgb !== lastShown) {
          ui.colour(rgb);
          drawLog.push({ rgb, drawn_ms: t });
          lastShown = rgb;
        }
        const step = steps.find((s) => t >= s.start_ms && t < s.end_ms);
        const done = steps.filter((s) => t >= s.end_ms).length;
        ui.challengeProgress({ t, duration, step, done, total: steps.length, colour: rgb });
        if (nextPlanned < plan.length && t >= plan[nextPlanned] && pending.length < maxFrames) {
          // One frame now; planned times this frame already passed are skipped.
          while (nextPlanned < plan.length && plan[nextPlanned] <= t) ++nextPlanned;
          const index = pending.length;
          const tMs = t;
          pending.push((async () => {
            const m = await meter.measure(video);
            let q = 0.9;
            let enc = await encodeCrop(video, side, q);
            while (enc.blob.size > maxBytes && q > 0.4) { q -= 0.1; enc = await encodeCrop(video, side, q); }
            frames[index] = { t_ms: tMs, jpeg: new Uint8Array(await enc.blob.arrayBuffer()), colour: rgb, quality: m.quality, width: enc.canvas.width };
          })());
        }
        schedule();
      } catch (e) { reject(e); }
    };
    const schedule = () => (useVfc ? video.requestVideoFrameCallback((now) => onFrame(now)) : requestAnimationFrame(onFrame));
    schedule();
    function finish() {
      const kept = frames.filter(Boolean);
      let best = -1;
      kept.forEach((f, i) => { if (best < 0 || f.quality > kept[best].quality) best = i; });
      return {
        frames: kept,
        drawLog,
        // The capture's `display` (docs/API.md): each change of the full-
        // screen colour at the time it was drawn, on the frames' clock. A
        // change made in a frame callback is painted in that same rendering
        // frame, so this is when it reached the screen (to the display's
        // refresh). Only under a colour sequence: the server refuses a
        // report for a challenge without colours, and a light capture
        // without one.
        display: displayReport(drawLog, colours),
        // The browser runs no local liveness model: it reports no objection
        // (live: true) and no detected actions; the server judges (11.10).
        client: { live: true, quality: best >= 0 ? Math.round(kept[best].quality * 1000) / 1000 : 0, best_frame: best, actions_detected: [] },
      };
    }
  });
}

// The capture's `display` from the draw log: {t_ms, rgb: "#rrggbb" | "none"}
// per change, only under a colour sequence (undefined otherwise: the field
// is then left out of the package).
export function displayReport(drawLog, colours = []) {
  if (!colours.length) return undefined;
  return drawLog.map((d) => ({ t_ms: d.drawn_ms, rgb: d.rgb ? d.rgb.toLowerCase() : 'none' }));
}

// When to take frames (challenge ms): at most `maxFrames`, >= `minGap` apart.
// Under a colour sequence the light check correlates the face's colour with
// the screen's over the frames taken under the colours, so each colour window
// gets its own frames (up to 4, after `settleMs` for display and camera
// lag), half the budget at most; the rest is spread evenly over the whole
// challenge (the actions and the continuity check need the whole span).
// With a small budget this is what keeps frames under every colour.
// Blink windows (issue 13, the capture rate rule of judgement/capture_rate.h:
// a blink is 3-4 frames at 30 fps, 1-2 at 15 fps) get a frame every
// `blinkGap` ms - the camera's rate - within the budget; elsewhere frames
// stay >= `minGap` apart (~15 fps, what the other checks are calibrated on).
export function planSamples(duration, maxFrames, colours = [],
  { minGap = 66, settleMs = 150, blinkWindows = [], blinkGap = 30 } = {}) {
  const times = [];
  if (colours.length) {
    const perWindow = Math.max(1, Math.min(4, Math.floor(maxFrames / 2 / colours.length)));
    for (const c of colours) {
      const from = Math.min(c.start_ms + settleMs, (c.start_ms + c.end_ms) / 2);
      for (let i = 0; i < perWindow; ++i) times.push(Math.round(from + (c.end_ms - from) * (i + 0.5) / perWindow));
    }
  }
  const inBlink = (t) => blinkWindows.some(([a, b]) => t >= a && t <= b);
  const dense = [];
  for (const [a, b] of blinkWindows) {
    for (let t = a; t <= Math.min(b, duration); t += blinkGap) dense.push(Math.round(t));
  }
  // Like the C++ client's package: the blink windows are kept whole and the
  // frames elsewhere thinned when the budget is short (a server configured
  // below MaxFramesForChallenges); a few frames always remain elsewhere.
  const denseRoom = Math.max(0, maxFrames - times.length - 8);
  const denseStep = dense.length > denseRoom && denseRoom > 0 ? dense.length / denseRoom : 1;
  for (let k = 0; denseRoom > 0 && Math.floor(k) < dense.length; k += denseStep) times.push(dense[Math.floor(k)]);
  const rest = Math.max(1, maxFrames - times.length);
  // Evenly over the challenge, never denser than minGap (a large budget
  // then gives exactly ~15 fps instead of a beat against the 66 ms floor).
  const restStep = Math.max(minGap, duration / rest);
  for (let i = 0; i < rest && i * restStep <= duration; ++i) times.push(Math.round(i * restStep));
  times.sort((a, b) => a - b);
  const out = [];
  for (const t of times) {
    const gap = inBlink(t) ? blinkGap : minGap;
    if (t <= duration && (!out.length || t - out[out.length - 1] >= gap)) out.push(t);
  }
  if (out.length <= maxFrames) return out;
  // Over the budget: drop frames outside blink windows evenly.
  const keep = new Set(out.filter(inBlink));
  const others = out.filter((t) => !inBlink(t));
  const room = Math.max(0, maxFrames - keep.size);
  for (let i = 0; i < room; ++i) keep.add(others[Math.floor((i * others.length) / room)]);
  return [...keep].sort((a, b) => a - b).slice(0, maxFrames);
}

// The blink windows of a challenge ([start, end + slack] in capture ms; the
// server's ChallengePolicy::window_slack_ms, 750 ms by default).
export function blinkWindows(challenge, slackMs = 750) {
  if (challenge.type === 'passive') return [];
  return (challenge.steps || []).filter((s) => s.action === 'blink').map((s) => [s.start_ms, s.end_ms + slackMs]);
}
