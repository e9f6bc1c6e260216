// The capture's frame schedule (web/ui/capture.js planSamples).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { blinkWindows, displayReport, planSamples } from '../ui/capture.js';

const COLOURS = [600, 1200, 1800].map((s, i) => ({ rgb: ['#ff0000', '#00ff00', '#0000ff'][i], start_ms: s, end_ms: s + 600 }));
const under = (plan, c) => plan.filter((t) => t >= c.start_ms && t < c.end_ms).length;

test('actions only: evenly over the challenge from 0, within the budget', () => {
  const p = planSamples(8000, 40, []);
  assert.equal(p.length, 40);
  assert.equal(p[0], 0);
  for (let i = 1; i < p.length; ++i) assert.equal(p[i] - p[i - 1], 200);
});

test('a small budget still puts frames under every colour', () => {
  const p = planSamples(12750, 12, COLOURS);
  assert.ok(p.length <= 12 && p.length >= 10, JSON.stringify(p));
  for (const c of COLOURS) assert.ok(under(p, c) >= 2, `${c.rgb}: ${JSON.stringify(p)}`);
  assert.equal(p[0], 0);
  assert.ok(p.at(-1) >= 9000, 'the rest spans the challenge');
  // For this schedule no frame lands in a window's first 150 ms (display and camera lag).
  for (const c of COLOURS) assert.ok(!p.some((t) => t >= c.start_ms && t < c.start_ms + 150), JSON.stringify(p));
});

test('frames at least 66 ms apart, never past the end, never more than the budget', () => {
  for (const [d, n] of [[1000, 60], [8000, 60], [3000, 5], [100, 3]]) {
    const p = planSamples(d, n, COLOURS.filter((c) => c.end_ms <= d));
    assert.ok(p.length <= n);
    for (let i = 1; i < p.length; ++i) assert.ok(p[i] - p[i - 1] >= 66, `${d}/${n}: ${p}`);
    assert.ok(p.every((t) => t >= 0 && t <= d));
  }
});

test('the display report: the draw log as {t_ms, rgb}, only under a colour sequence', () => {
  const log = [{ rgb: '#FF0000', drawn_ms: 617 }, { rgb: '#00ff00', drawn_ms: 1217 }, { rgb: '#0000ff', drawn_ms: 1817 }, { rgb: null, drawn_ms: 2433 }];
  assert.deepEqual(displayReport(log, COLOURS), [
    { t_ms: 617, rgb: '#ff0000' }, { t_ms: 1217, rgb: '#00ff00' }, { t_ms: 1817, rgb: '#0000ff' }, { t_ms: 2433, rgb: 'none' },
  ]);
  assert.equal(displayReport([], []), undefined);
  assert.equal(displayReport(log, []), undefined, 'no colours asked: no report (the server refuses one)');
  assert.deepEqual(displayReport([], COLOURS), [], 'a sequence asked and nothing drawn: an empty report (the server says incomplete)');
});

// Issue 13: a blink is 3-4 frames at 30 fps; the blink window gets the
// camera's rate, the rest ~15 fps, within the shipped budget (360).
test('blink windows at the camera rate, ~15 fps elsewhere', () => {
  const ch = { type: 'actions', steps: [{ action: 'blink', start_ms: 1000, end_ms: 3750 }, { action: 'open_mouth', start_ms: 3750, end_ms: 6500 }] };
  const windows = blinkWindows(ch);
  assert.deepEqual(windows, [[1000, 4500]]);
  const p = planSamples(7250, 360, [], { blinkWindows: windows });
  const inside = p.filter((t) => t >= 1000 && t <= 4500);
  assert.ok(inside.length >= 110, `${inside.length} frames in the 3.5 s window`);
  for (let i = 1; i < inside.length; ++i) assert.ok(inside[i] - inside[i - 1] >= 30 && inside[i] - inside[i - 1] <= 40, JSON.stringify(inside));
  const outside = p.filter((t) => t < 1000 || t > 4500);
  for (let i = 1; i < outside.length; ++i) {
    if (outside[i - 1] < 1000 && outside[i] > 4500) continue;
    assert.ok(outside[i] - outside[i - 1] >= 66, JSON.stringify(outside));
  }
  assert.ok(outside.length >= 45, `${outside.length} frames outside`);
  assert.deepEqual(blinkWindows({ type: 'passive', steps: ch.steps }), []);
  // A small budget thins outside the window first and never exceeds the bound.
  const small = planSamples(7250, 130, [], { blinkWindows: windows });
  assert.ok(small.length <= 130);
  assert.ok(small.filter((t) => t >= 1000 && t <= 4500).length >= 100);
  assert.equal(small[0], 0);
});
