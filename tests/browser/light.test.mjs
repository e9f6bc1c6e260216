// Browser end-to-end (label browser), the `actions+light` tier with the
// SHIPPED decision policy (config/policy.default.json, untouched): a new
// browser scores 50 (risk.new_device + no_trusted_environment) and lands in
// the high tier, whose challenge shows a colour sequence full-screen. The
// fake camera plays a recorded clip: its face cannot answer the screen's
// colours, so the server refuses (asd.not_live to the client,
// replay.no_colour_response in the audit) — an injected video refused end
// to end. The page's record of what it drew is checked against the
// challenge: every colour in order, drawn at its start time, and the frames'
// timestamps (what the server reads against the same windows) consistent
// with the colour on screen at each; and the page's record of the changes
// it drew (colour and time) is what the server received and recorded in
// its audit entry for the capture (the package's `display`, docs/API.md),
// which the light check judged the frames against.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { browserSuite, checkPrerequisites, hex, launchBrowser, makeY4m, pageProblems, runPageFlow } from './e2e_support.mjs';

const skip = checkPrerequisites();

const D10 = '2_face_video/liveportrait/liveportrait_d10.mp4';
const COLOURS = [
  { rgb: '#ff0000', start_ms: 600, end_ms: 1200 },
  { rgb: '#00ff00', start_ms: 1200, end_ms: 1800 },
  { rgb: '#0000ff', start_ms: 1800, end_ms: 2400 },
  { rgb: '#ff00ff', start_ms: 2400, end_ms: 3000 },
];
const LIGHT = { type: 'actions+light', duration_ms: 8000, steps: [{ action: 'open_mouth', start_ms: 0, end_ms: 8000 }], colours: COLOURS };

const account = `light-${hex(4)}`;
const password = `pw-${hex(8)}`;
const suite = browserSuite({ name: 'light', skip, tests: 1, account, password });  // the shipped policy, unchanged

test('actions+light under the shipped policy: the fake camera is refused for the light', { skip: skip || false, timeout: 300000 }, async () => {
  const { server, dir, artefacts, chromium } = suite;
  // A laptop-sized window here (the flows test uses a phone-sized one).
  const browser = await launchBrowser(chromium, join(dir, 'profile'), makeY4m(dir, D10, 0, 120), server.spki, { width: 1280, height: 800 });
  const page = browser.pages()[0] || await browser.newPage();
  server.script(account, 'registration', LIGHT);
  const r = await runPageFlow(page, server.url, 'register.html', { account, password, label: '1-register-light', artefacts });
  await browser.close();
  assert.equal(r.log.procedure.tier, 'high');
  assert.equal(r.log.procedure.asd_type, 'actions+light');
  assert.deepEqual(r.log.procedure.reasons, ['risk.new_device', 'risk.integrity.no_trusted_environment', 'tier.high']);
  // Refused, and for the light.
  assert.equal(r.outcome, 'refused');
  assert.equal(r.reason, 'asd.not_live');
  const audit = server.lastCaptureReasons(account);
  assert.ok(audit.includes('replay.no_colour_response'), JSON.stringify(audit));
  assert.ok(r.stages.some((s) => s.stage === 'challenge'), 'challenge stage shown');

  // Drawn as the challenge says: each colour once, in order, at its start
  // (within one video frame + scheduling: 120 ms), then the overlay off.
  const drawn = r.log.capture.drawLog;
  const shown = drawn.filter((d) => d.rgb);
  assert.deepEqual(shown.map((d) => d.rgb), COLOURS.map((c) => c.rgb));
  shown.forEach((d, i) => {
    assert.ok(d.drawn_ms >= COLOURS[i].start_ms && d.drawn_ms <= COLOURS[i].start_ms + 120, JSON.stringify(d));
  });
  assert.equal(drawn.at(-1).rgb, null);
  // Each frame sent carries its capture time on the challenge's clock; the
  // colour recorded with it is the window that time falls in (what the
  // server will assume lit the face).
  const frames = r.log.capture.frames;
  let coloured = 0;
  for (const f of frames) {
    const w = COLOURS.find((c) => f.t_ms >= c.start_ms && f.t_ms < c.end_ms);
    assert.equal(f.colour, w ? w.rgb : null, JSON.stringify(f));
    if (w) ++coloured;
  }
  assert.ok(coloured >= 8, `${coloured} frames under a colour`);
  // The timestamps that went into the sealed package are these frames' t_ms.
  assert.deepEqual(r.log.sentTMs, frames.map((f) => f.t_ms));
  // The colours and their times reach the server as drawn: the package's
  // `display` is the page's draw log (colour, time drawn on the frames'
  // clock), and the server's audit record of this capture holds exactly
  // these changes, relative to the first frame, with the largest offset
  // from the challenge's times.
  const sent = r.log.sentDisplay;
  assert.deepEqual(sent, drawn.map((d) => ({ t_ms: d.drawn_ms, rgb: d.rgb || 'none' })));
  const first = r.log.sentTMs[0];
  const recorded = audit.filter((a) => a.startsWith('display:')).flatMap((a) => a.slice('display:'.length).split('/'));
  assert.deepEqual(recorded, sent.map((d) => `${d.rgb === 'none' ? 'none' : d.rgb.slice(1)}@${d.t_ms - first}`), JSON.stringify(audit));
  const nominal = [...COLOURS.map((c) => c.start_ms), COLOURS.at(-1).end_ms];
  const maxOffset = Math.max(...sent.map((d, i) => Math.abs(d.t_ms - first - nominal[i])));
  assert.ok(audit.includes(`display.max_offset_ms:${maxOffset}`), `${maxOffset} ${JSON.stringify(audit)}`);
  assert.ok(maxOffset <= 250, 'within the server\'s display tolerance');
  assert.deepEqual(pageProblems, [], 'no console error, no CSP violation');
  console.log(`light: ${frames.length} frames, ${coloured} under the colours; drawn ${JSON.stringify(shown)}; audit ${JSON.stringify(audit)}`);
  suite.passed += 1;
});
