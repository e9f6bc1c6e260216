// One controller for the three pages (register.html, authenticate.html,
// deregister.html: <body data-flow="...">). It runs web/lib/api.js runFlow
// with the camera of ./capture.js and shows every step: environment
// guidance, a countdown, the live prompts with progress, the colour
// sequence full-screen, the result with a clear reason.
//
// For tests and support the page exposes its state on document.body
// (data-stage, data-outcome, data-reason) and a record of what it did in
// window.livegateLog (timings, procedure, frames' t_ms and colours, drawn
// colours) — no secret is ever put there.
import { LivegateApi, runFlow } from '../lib/api.js';
import { ProtocolError } from '../lib/bytes.js';
import { indexedDbCredentials } from '../lib/credential.js';
import { GUIDE, closeCamera, guideEnvironment, openCamera, performChallenge } from './capture.js';
import { actionPrompt, explainReason, titleFor } from './messages.js';

const $ = (id) => document.getElementById(id);
const flow = document.body.dataset.flow;
const log = { flow, loadedAtMs: Math.round(performance.now()), events: [] };
window.livegateLog = log;

const els = {
  form: $('flow-form'), start: $('start'), account: $('account'), password: $('password'),
  prompt: $('prompt'), guidance: $('guidance'), stage: $('camera-stage'), video: $('preview'),
  progress: $('progress'), progressLabel: $('progress-label'), countdown: $('countdown'),
  result: $('result'), resultTitle: $('result-title'), resultText: $('result-text'), resultCode: $('result-code'),
  overlay: $('light-overlay'), overlayPrompt: $('overlay-prompt'), overlayProgress: $('overlay-progress'), again: $('again'), steps: $('steps'),
};

function setStage(stage) {
  document.body.dataset.stage = stage;
  log.events.push({ stage, atMs: Math.round(performance.now()) });
}

function prompt(text) {
  els.prompt.textContent = text;
  if (log.firstPromptMs === undefined) log.firstPromptMs = Math.round(performance.now());
}

function addStep(text) {
  const li = document.createElement('li');
  li.textContent = text;
  els.steps.append(li);
}

const ui = {
  guidance(issues, m, hasDetector) {
    els.guidance.replaceChildren();
    const items = issues.length ? issues : [{ code: 'env.ok', text: 'Good light and steady: hold on.' }];
    if (!hasDetector) items.push({ code: 'env.oval', text: 'Keep your whole face inside the oval.' });
    for (const i of items) {
      const li = document.createElement('li');
      li.textContent = i.text;
      li.dataset.code = i.code;
      li.className = i.code === 'env.ok' ? 'ok' : i.code === 'env.oval' ? 'hint' : 'issue';
      els.guidance.append(li);
    }
    prompt(issues.length ? issues[0].text : 'Hold still…');
    log.lastMeasure = { light: Math.round(m.light), surroundings: Math.round(m.surroundings), motion: Math.round(m.motion * 10) / 10 };
  },
  challengeProgress({ t, duration, step, done, total, colour }) {
    const left = Math.max(0, Math.ceil((duration - t) / 1000));
    els.progress.value = Math.min(1, t / duration);
    els.progressLabel.textContent = total ? `Step ${Math.min(done + 1, total)} of ${total}` : 'Look at the screen';
    els.countdown.textContent = `${left} s`;
    let text = step ? actionPrompt(step.action) : (total && done >= total ? 'Done — hold still' : 'Look at the screen, face in the oval');
    if (step) {
      const stepLeft = Math.max(0, Math.ceil((step.end_ms - t) / 1000));
      text += ` (${stepLeft} s)`;
    }
    if (text !== els.prompt.textContent) prompt(text);
    els.overlayProgress.value = els.progress.value;
    els.overlayPrompt.textContent = text + (colour ? ' — keep your face close to the screen' : '');
  },
  colour(rgb) {
    if (rgb) {
      els.overlay.hidden = false;
      els.overlay.style.backgroundColor = rgb;
      // Text that stays readable on any of the palette's colours.
      const n = parseInt(rgb.slice(1), 16);
      const lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
      els.overlay.style.color = lum > 140 ? '#000' : '#fff';
    } else {
      els.overlay.hidden = true;
    }
  },
};

const countdown = async (seconds) => {
  for (let s = seconds; s > 0; --s) {
    prompt(`Get ready: starting in ${s}…`);
    els.countdown.textContent = `${s} s`;
    await new Promise((r) => setTimeout(r, 1000));
  }
};

async function capture(procedure, attempt) {
  const ch = procedure.challenge;
  if (!els.video.srcObject) {
    setStage('camera');
    prompt('Opening the camera… allow it if the browser asks.');
    await openCamera(els.video);
  }
  setStage('guidance');
  if (attempt > 0) addStep(`New capture requested (${attempt}).`);
  const env = await guideEnvironment(els.video, ui);
  log.detectorMs = env.detectorMs;
  log.meterMs = env.meterMs.map((x) => Math.round(x * 100) / 100);
  log.hasFaceDetector = env.hasDetector;
  const actions = (ch.steps || []).map((s) => actionPrompt(s.action).toLowerCase());
  addStep(`Challenge: ${actions.length ? actions.join(', then ') : 'look at the camera'}${(ch.colours || []).length ? ', with a colour sequence on the screen' : ''} — ${Math.ceil(ch.duration_ms / 1000)} s.`);
  setStage('countdown');
  await countdown(3);
  setStage('challenge');
  if ((ch.colours || []).length && document.fullscreenEnabled && !document.fullscreenElement) {
    try { await els.overlay.requestFullscreen({ navigationUI: 'hide' }); } catch { /* fixed overlay covers the page anyway */ }
  }
  const out = await performChallenge(els.video, procedure, ui);
  if (document.fullscreenElement) await document.exitFullscreen().catch(() => {});
  log.capture = { frames: out.frames.map((f) => ({ t_ms: f.t_ms, colour: f.colour, bytes: f.jpeg.length, side: f.width })),
    drawLog: out.drawLog, challenge: ch, client: out.client };
  setStage('uploading');
  prompt('Checking…');
  return out;
}

function showResult(outcome, reason, message) {
  closeCamera(els.video);
  ui.colour(null);
  const ok = ['registered', 'authenticated', 'deregistered'].includes(outcome);
  document.body.dataset.outcome = outcome;
  document.body.dataset.reason = reason || '';
  els.result.hidden = false;
  els.result.className = ok ? 'result ok' : 'result refused';
  els.resultTitle.textContent = titleFor(outcome, reason);
  els.resultText.textContent = ok ? (message || '') : explainReason(reason, message, flow);
  els.resultCode.textContent = reason ? `Reason code: ${reason}` : '';
  prompt(els.resultTitle.textContent);
  setStage('result');
  els.again.hidden = false;
  els.resultTitle.focus();
}

async function start(event) {
  event.preventDefault();
  if (!els.form.reportValidity()) return;
  els.start.disabled = true;
  els.result.hidden = true;
  els.steps.replaceChildren();
  delete document.body.dataset.outcome;
  delete document.body.dataset.reason;
  log.startedAtMs = Math.round(performance.now());
  setStage('connecting');
  prompt('Connecting securely…');
  els.stage.hidden = false;
  let credentials;
  try {
    if (!globalThis.crypto?.subtle || !globalThis.indexedDB) throw Object.assign(new Error('no crypto'), { reason: 'client.crypto_unavailable' });
    credentials = indexedDbCredentials();
    // Sign-in needs this browser's credential: say so before the camera.
    if (flow === 'authentication' && !(await credentials.load(els.account.value.trim()))) {
      throw new ProtocolError('client.not_registered', 'no device credential in this browser');
    }
    // The camera first, inside the click's user activation: the permission
    // prompt comes at once, and no server session or challenge lifetime is
    // spent while the person answers it.
    if (!els.video.srcObject) {
      setStage('camera');
      prompt('Opening the camera… allow it if the browser asks.');
      await openCamera(els.video);
    }
    const result = await runFlow({
      api: new LivegateApi(''), flow, accountId: els.account.value.trim(), password: els.password ? els.password.value : '',
      credentials, capture,
      onEvent: (e) => {
        log.events.push({ step: e.step, atMs: Math.round(performance.now()) });
        if (e.step === 'risk') addStep('Secure channel set up (SRP-6a, sealed messages).');
        if (e.step === 'procedure') {
          log.procedure = { asd_type: e.procedure.asd_type, tier: e.procedure.tier, reasons: e.procedure.reasons };
          addStep(`The server asks for: ${e.procedure.asd_type === 'actions+light' ? 'actions and a colour sequence' : e.procedure.asd_type}.`);
        }
        if (e.step === 'recapture') addStep(`Again, please: ${e.message}`);
        if (e.step === 'upload') {
          addStep(`Sending ${e.frames} face pictures, sealed.`);
          // The timestamps exactly as they go into the sealed package.
          log.sentTMs = e.tMs;
          log.sentDisplay = e.display;
        }
      },
    });
    log.result = { outcome: result.outcome, reasons: result.reasons, deviceId: result.deviceId, attempts: result.attempts };
    showResult(result.outcome, result.reasons[0], result.message);
  } catch (e) {
    log.error = { reason: e.reason || e.name, message: e.message };
    showResult(e.reason && e.reason.startsWith('env.') ? 'not_sent' : 'error', e.reason || 'client.error', e.message);
  } finally {
    els.start.disabled = false;
    if (els.password) els.password.value = '';
  }
}

async function init() {
  // The guide oval's geometry is shared with the capture code.
  document.documentElement.style.setProperty('--oval-w', `${GUIDE.w * 100}%`);
  document.documentElement.style.setProperty('--oval-h', `${GUIDE.h * 100}%`);
  els.form.addEventListener('submit', start);
  els.again.addEventListener('click', () => { els.result.hidden = true; els.again.hidden = true; setStage('form'); els.account.focus(); });
  const params = new URLSearchParams(location.search);
  if (params.get('account')) els.account.value = params.get('account');
  if (flow !== 'registration') {
    try {
      const list = await indexedDbCredentials().list();
      const dl = $('known-accounts');
      for (const c of list) { const o = document.createElement('option'); o.value = c.accountId; dl.append(o); }
      if (!els.account.value && list.length === 1) els.account.value = list[0].accountId;
    } catch { /* no IndexedDB: the flow says so */ }
  }
  setStage('form');
  prompt(flow === 'registration' ? 'Enter your account and password, then press Start.'
    : flow === 'authentication' ? 'Enter your account, then press Start.'
      : 'Enter your account and password to remove face login, then press Start.');
  log.readyAtMs = Math.round(performance.now());
}

init();
