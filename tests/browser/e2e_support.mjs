// Support for the browser end-to-end tests (label browser, docs/WEB.md):
// a real livegate-server process (SQLite or PostgreSQL) serving /app/, the
// real livegate-admin, Debian's Chromium driven by the pinned playwright-core
// with a fake camera fed from a y4m made at test time from the shared clips.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

export const env = {
  server: process.env.LIVEGATE_SERVER_BIN,
  admin: process.env.LIVEGATE_ADMIN_BIN,
  makeY4m: process.env.LIVEGATE_MAKE_Y4M,
  source: process.env.LIVEGATE_SOURCE_DIR,
  data: process.env.LIVEGATE_TEST_DATA || process.env.LIVEGATE_TEST_DATA_DEFAULT,
  chromium: process.env.LIVEGATE_CHROMIUM || '/usr/bin/chromium',
  artefacts: process.env.LIVEGATE_BROWSER_ARTEFACTS,
  database: process.env.LIVEGATE_BROWSER_DB || 'sqlite',
};

// Skip (or fail under CI=true) when a prerequisite is missing.
export function missingPrerequisite() {
  if (!env.server || !env.admin || !env.makeY4m || !env.source) return 'LIVEGATE_*_BIN / LIVEGATE_SOURCE_DIR not set (run through ctest)';
  if (!existsSync(env.chromium)) return `no Chromium at ${env.chromium} (scripts/setup installs Debian's chromium)`;
  if (!env.data || !existsSync(join(env.data, '2_face_video'))) return 'test data missing (set LIVEGATE_TEST_DATA)';
  if (!existsSync(new URL('./node_modules/playwright-core/package.json', import.meta.url))) return 'playwright-core not installed in tests/browser/node_modules (scripts/setup runs npm ci there)';
  if (env.database === 'postgresql' && !process.env.LIVEGATE_PG_URI) return 'LIVEGATE_PG_URI not set (scripts/pg-test-cluster)';
  return '';
}

export const hex = (n) => randomBytes(n).toString('hex');

export function makeY4m(dir, clip, start, end) {
  const out = join(dir, `${clip.replace(/[^A-Za-z0-9]+/g, '_')}_${start}_${end}.y4m`);
  if (!existsSync(out)) execFileSync(env.makeY4m, [join(env.data, clip), out, String(start), String(end), '640'], { stdio: 'pipe' });
  return out;
}

// policyEdit: (text) => text, applied to config/policy.default.json.
// The limits are the shipped ones (config/server.example.json), so the page
// is tested against what an operator deploys.
export async function startServer(dir, { policyEdit = (p) => p } = {}) {
  mkdirSync(join(dir, 'challenges'), { recursive: true });
  writeFileSync(join(dir, 'policy.json'), policyEdit(readFileSync(join(env.source, 'config/policy.default.json'), 'utf8')));
  writeFileSync(join(dir, 'judgement.json'), JSON.stringify({ challenge: { allow_scripted: true } }));
  const adminToken = hex(24);
  const db = env.database === 'postgresql' ? process.env.LIVEGATE_PG_URI : `sqlite:${join(dir, 'livegate.db')}`;
  writeFileSync(join(dir, 'server.json'), JSON.stringify({
    listen: { address: '127.0.0.1', port: 0 },
    tls: { generate: true, generated_dir: 'tls' },
    database: { uri: db },
    master_key: { env: 'LIVEGATE_MASTER_KEY' },
    policy_file: 'policy.json',
    judgement_policy_file: 'judgement.json',
    testing: { scripted_challenges_dir: 'challenges' },
    limits: JSON.parse(readFileSync(join(env.source, 'config/server.example.json'), 'utf8')).limits,
    admin: { token_sha256: createHash('sha256').update(adminToken).digest('hex') },
    log: { level: 'info', file: join(dir, 'server.log'), audit_file: join(dir, 'audit.log') },
    web: { static_dir: join(env.source, 'web') },
  }, null, 2));
  const proc = spawn(env.server, ['--config', join(dir, 'server.json')], {
    env: { ...process.env, LIVEGATE_MASTER_KEY: hex(32) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30000);
    const check = () => {
      const m = out.match(/listening on https:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    proc.stdout.on('data', check);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}:\n${out}`)); });
  });
  const certPem = readFileSync(join(dir, 'tls', 'tls_cert.pem'), 'utf8');
  // Chromium trusts exactly this test certificate's key (no blanket
  // --ignore-certificate-errors).
  const spki = createHash('sha256').update(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const url = `https://127.0.0.1:${port}`;
  return {
    url, spki, dir, proc, output: () => out,
    createAccount(account, password) {
      execFileSync(env.admin, ['account', 'create', '--server', url, '--ca', join(dir, 'tls', 'tls_cert.pem'), '--account', account],
        { env: { ...process.env, LIVEGATE_ADMIN_TOKEN: adminToken, LIVEGATE_ACCOUNT_PASSWORD: password }, stdio: 'pipe' });
    },
    script(account, flow, challenge) {
      writeFileSync(join(dir, 'challenges', `${account}.${flow}.json`), JSON.stringify({ ...challenge, scripted: true }));
    },
    // The reasons the server recorded for the last capture of `account`.
    lastCaptureReasons(account) {
      let reasons = [];
      for (const line of readFileSync(join(dir, 'audit.log'), 'utf8').split('\n')) {
        let j;
        try { j = JSON.parse(line); } catch { continue; }
        if (j.subject !== account || !String(j.action || '').endsWith('.capture')) continue;
        reasons = (j.reasons || []).filter((r) => !r.startsWith('flow:') && !r.startsWith('remote:'));
      }
      return reasons;
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
    },
  };
}

// camera: false launches without the camera permission (the page is refused).
// Every browser still open when a suite ends is closed by its `after`: a
// failed assertion between launch and close must not leave Chromium running
// (node would wait for it until the test's timeout).
const openBrowsers = new Set();

export async function launchBrowser(chromium, profileDir, y4m, spki, viewport = { width: 390, height: 844 }, { camera = true } = {}) {
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: env.chromium,
    headless: true,
    viewport,
    deviceScaleFactor: 1,
    permissions: camera ? ['camera'] : [],
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', ...(camera ? ['--use-fake-ui-for-media-stream'] : ['--deny-permission-prompts']),
      `--use-file-for-fake-video-capture=${y4m}`,
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
  });
  openBrowsers.add(browser);
  browser.on('close', () => openBrowsers.delete(browser));
  return browser;
}

export function newDir(prefix) { return mkdtempSync(join(tmpdir(), prefix)); }
export function copyDir(from, to) { cpSync(from, to, { recursive: true }); }

// Runs one flow on a page: opens `path`, fills the form, starts, and takes a
// screenshot at every stage the page passes (artefacts), recording the
// prompt shown then. Returns {outcome, reason, stages, log, firstPromptMs}.
// Console errors and uncaught exceptions of every page, CSP violations
// included ("Refused to ..."): the tests expect none.
export const pageProblems = [];
const watched = new WeakSet();
function watch(page) {
  if (watched.has(page)) return;
  watched.add(page);
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) pageProblems.push(m.text()); });
  page.on('pageerror', (e) => pageProblems.push(String(e)));
}

export async function runPageFlow(page, url, path, { account, password, label, artefacts, useKeyboard = false }) {
  watch(page);
  await page.goto(`${url}/app/${path}?account=${encodeURIComponent(account)}`);
  await page.waitForFunction(() => document.body.dataset.stage === 'form');
  const timing = await page.evaluate(() => ({ firstPromptMs: window.livegateLog.firstPromptMs, readyAtMs: window.livegateLog.readyAtMs }));
  const stages = [];
  const shoot = async (stage) => {
    const prompt = await page.textContent('#prompt');
    const file = join(artefacts, `${label}-${String(stages.length + 1).padStart(2, '0')}-${stage}.png`);
    await page.screenshot({ path: file });
    stages.push({ stage, prompt, file });
  };
  await shoot('form');
  if (password !== undefined) await page.fill('#password', password);
  if (useKeyboard) {
    // Keyboard only: the form submits with Enter from its last field.
    await page.focus(password !== undefined ? '#password' : '#account');
    await page.keyboard.press('Enter');
  } else {
    await page.click('#start');
  }
  const deadline = Date.now() + 90000;
  let last = 'form';
  while (Date.now() < deadline) {
    const stage = await page.evaluate(() => document.body.dataset.stage);
    if (stage !== last) {
      last = stage;
      // The challenge: once the first action prompt or colour is up.
      if (stage === 'challenge') await page.waitForTimeout(700);
      await shoot(stage);
      if (stage === 'result') break;
    }
    await page.waitForTimeout(50);
  }
  const state = await page.evaluate(() => ({ outcome: document.body.dataset.outcome, reason: document.body.dataset.reason, log: window.livegateLog }));
  return { ...state, stages, ...timing };
}

// The prelude of every browser suite: the reason to skip ('' = run), after
// saying so and setting the exit code ctest reads as SKIP (77); under
// CI=true a missing prerequisite is a failure instead.
export function checkPrerequisites() {
  const skip = missingPrerequisite();
  if (skip && process.env.CI === 'true') throw new Error(`browser test prerequisite missing (CI=true): ${skip}`);
  if (skip) {
    console.log(`SKIPPED: ${skip}`);
    process.exitCode = 77;  // ctest SKIP_RETURN_CODE
  }
  return skip;
}

// The fixture of one browser suite, as node:test before/after hooks: before
// the tests, playwright-core's chromium, a temporary folder, the artefacts
// folder <LIVEGATE_BROWSER_ARTEFACTS or the folder>/<name>-<database> emptied
// (this run's screenshots only), a server started with `serverOptions`
// (startServer) and `account` created with `password`; after them, the
// server stopped and the folder (database, logs, profiles, y4m) removed only
// when all `tests` tests passed (each adds 1 to `passed`), else kept for
// the post-mortem. The returned object's fields are set once `before` ran.
export function browserSuite({ name, skip, tests, account, password, serverOptions = {} }) {
  const suite = { server: null, dir: null, artefacts: null, chromium: null, passed: 0 };
  before(async () => {
    if (skip) return;
    ({ chromium: suite.chromium } = await import('playwright-core'));
    suite.dir = newDir(`lg-browser-${name}-`);
    suite.artefacts = join(env.artefacts || suite.dir, `${name}-${env.database}`);
    rmSync(suite.artefacts, { recursive: true, force: true });
    mkdirSync(suite.artefacts, { recursive: true });
    suite.server = await startServer(suite.dir, serverOptions);
    suite.server.createAccount(account, password);
  });
  after(async () => {
    for (const b of [...openBrowsers]) await b.close().catch(() => {});
    if (suite.server) await suite.server.stop();
    if (suite.passed === tests && suite.dir) rmSync(suite.dir, { recursive: true, force: true });
    else if (suite.dir) console.log(`kept ${suite.dir} for inspection`);
  });
  return suite;
}
