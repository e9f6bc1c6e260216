// The /v1 flows of docs/API.md from a browser, the same four requests and the
// same protocol as the C++ client (src/client/client.cc):
//   1. POST /v1/flows                   plain JSON  -> flow id, SRP salt + B, channel ids
//   2. POST /v1/flows/{id}/verify       plain JSON  A, M1 -> M2 (checked: mutual proof)
//   3. POST /v1/flows/{id}/risk         sealed      risk report -> procedure + challenge
//   4. POST /v1/flows/{id}/capture      sealed      capture package -> result (or recapture)
// Identity and secret of the SRP exchange (decision 11.6): registration and
// deregistration use the account password; authentication the device
// credential (identity = device id, secret = the device secret).
import { ProtocolError, fromBase64Url, fromUtf8, toBase64Url, utf8 } from './bytes.js';
import { SealedChannel } from './seal.js';
import { SrpClientSession, SrpGroup, makeVerifier } from './srp.js';

export const APP_VERSION = '0.1.0';

// A non-200 answer: {"error":{"reason","message"}} (docs/API.md).
export class ApiError extends Error {
  constructor(status, reason, message) {
    super(message || reason);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
  }
}

// Answers that are decisions about this person or device (not faults),
// as IsRefusal in src/client/client.cc.
export function isRefusal(err) {
  return err instanceof ApiError && [401, 403, 410, 429].includes(err.status);
}

async function errorOf(response) {
  let reason = `server.http_${response.status}`;
  let message = '';
  try {
    const text = await response.text();
    message = text.slice(0, 200);
    const j = JSON.parse(text);
    if (j && j.error) { reason = j.error.reason || reason; message = j.error.message || message; }
  } catch { /* not JSON: keep the HTTP status as the reason */ }
  return new ApiError(response.status, reason, message);
}

// The risk report of a browser (decision 11.3). A web page cannot attest its
// own integrity or tell a real camera from a virtual one, so it reports
// no_trusted_environment, like the desktop CLI (decision 11.15).
export function browserRiskReport(deviceType = 'web-browser') {
  return {
    device_type: deviceType,
    platform: 'web',
    os_version: '1',
    app_version: APP_VERSION,
    integrity_flags: ['no_trusted_environment'],
    network_changed: false,
  };
}

export class LivegateApi {
  // `base`: origin of the server ('' = same origin). `fetchFn` injectable for tests.
  constructor(base = '', fetchFn = globalThis.fetch.bind(globalThis)) {
    this.base = base;
    this.fetch = fetchFn;
  }

  async postJson(path, body) {
    const r = await this.fetch(this.base + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
    if (r.status !== 200) throw await errorOf(r);
    return r.json();
  }

  // Step 2: SRP-6a round trip, then the sealed channel.
  async openChannel(flow, accountId, deviceId, identity, secret) {
    const start = { flow, account_id: accountId };
    if (deviceId) start.device_id = deviceId;
    const started = await this.postJson('/v1/flows', start);
    const group = await SrpGroup.create(started.srp.group, started.srp.hash);
    const srp = await SrpClientSession.respond(group, identity, secret,
      fromBase64Url(started.srp.salt), fromBase64Url(started.srp.B));
    const verified = await this.postJson(`/v1/flows/${started.flow_id}/verify`,
      { A: toBase64Url(srp.A), M1: toBase64Url(srp.M1) });
    srp.verifyServer(fromBase64Url(verified.M2));
    const channel = await SealedChannel.create(srp.sessionKey, fromBase64Url(started.channel.channel_id),
      fromBase64Url(started.channel.server_nonce), 'client');
    srp.sessionKey.fill(0);  // the channel keeps only non-extractable AES keys
    return { flowId: started.flow_id, group, channel, expiresAtMs: started.expires_at_ms };
  }

  // Steps 3-4 and 8-11: a JSON body sealed, the sealed JSON answer opened.
  async postSealed(session, step, body) {
    const wire = await session.channel.seal(utf8(JSON.stringify(body)));
    const r = await this.fetch(`${this.base}/v1/flows/${session.flowId}/${step}`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: wire,
      credentials: 'omit', cache: 'no-store',
    });
    if (r.status !== 200) throw await errorOf(r);
    const plain = await session.channel.open(new Uint8Array(await r.arrayBuffer()));
    return { json: JSON.parse(fromUtf8(plain)), sealedBytes: wire.length };
  }
}

// One whole flow. Hooks:
//   credentials: {generate(accountId), load(accountId), save(cred), remove(accountId), secret(cred)}
//   capture(procedure, attempt) -> {frames: [{t_ms, jpeg: Uint8Array}], client: {...}}
//   onEvent({step, message, ...}) for the page's progress.
// Returns {outcome, reasons, message, success, procedure, deviceId}.
export async function runFlow({ api, flow, accountId, password, credentials, capture, onEvent = () => {}, maxRecaptures = 3, riskReport = browserRiskReport() }) {
  let deviceId = '';
  let identity = accountId;
  let secret = password;
  let cred = null;
  let newCredential = null;
  if (flow === 'authentication') {
    cred = await credentials.load(accountId);
    if (!cred) throw new ProtocolError('client.not_registered', `this browser holds no device credential for '${accountId}': register first`);
    deviceId = cred.deviceId;
    identity = cred.deviceId;
    secret = await credentials.secret(cred);
  } else if (flow === 'registration') {
    newCredential = await credentials.generate(accountId);
    deviceId = newCredential.deviceId;
  } else {
    cred = await credentials.load(accountId);
    if (cred) deviceId = cred.deviceId;
  }
  const result = { flow, deviceId, outcome: '', reasons: [], message: '', success: false, attempts: 0 };
  const refused = (err) => {
    if (!isRefusal(err)) throw err;
    Object.assign(result, { outcome: 'refused', reasons: [err.reason], message: err.message });
    onEvent({ step: 'result', message: err.message, reason: err.reason });
    return result;
  };

  onEvent({ step: 'channel', message: 'Setting up the secure channel' });
  let session;
  try {
    session = await api.openChannel(flow, accountId, deviceId, identity, secret);
  } catch (e) { return refused(e); }
  onEvent({ step: 'risk', message: 'Secure channel ready; asking the server for the procedure', srp: session.group.name });
  let procedure;
  try {
    procedure = (await api.postSealed(session, 'risk', riskReport)).json;
  } catch (e) { return refused(e); }

  for (let attempt = 0; ; ++attempt) {
    result.procedure = procedure;
    onEvent({ step: 'procedure', message: `Procedure: ${procedure.asd_type} (tier ${procedure.tier})`, procedure });
    const captured = await capture(procedure, attempt);
    if (captured.notSent) {
      Object.assign(result, { outcome: 'not_sent', reasons: [captured.reason], message: captured.message });
      return result;
    }
    const submission = {
      challenge_id: procedure.challenge.id,
      session_nonce: procedure.session_nonce,
      frames: captured.frames.map((f) => ({ t_ms: Math.round(f.t_ms), jpeg: toBase64Url(f.jpeg) })),
      client: captured.client,
    };
    // actions+light: the colours drawn and when (required there, absent otherwise).
    if (captured.display) submission.display = captured.display;
    if (newCredential) {
      // Registration: the verifier of the new device secret (never the secret).
      const v = await makeVerifier(session.group, newCredential.deviceId, await credentials.secret(newCredential));
      submission.device_credential = { srp_group: session.group.name, srp_hash: session.group.hash,
        salt: toBase64Url(v.salt), verifier: toBase64Url(v.verifier) };
    }
    result.attempts += 1;
    result.framesSent = submission.frames.length;
    onEvent({ step: 'upload', message: `Sending ${submission.frames.length} face images, sealed`, frames: submission.frames.length,
      tMs: submission.frames.map((f) => f.t_ms), display: submission.display });
    let answer;
    try {
      answer = (await api.postSealed(session, 'capture', submission)).json;
    } catch (e) { return refused(e); }
    if (answer.outcome === 'recapture' && answer.next && attempt + 1 <= maxRecaptures) {
      onEvent({ step: 'recapture', message: answer.message, reasons: answer.reasons });
      procedure = answer.next;
      continue;
    }
    Object.assign(result, { outcome: answer.outcome, reasons: answer.reasons, message: answer.message });
    result.success = ['registered', 'authenticated', 'deregistered'].includes(answer.outcome);
    break;
  }
  // Local security management follows the server's decision.
  if (result.success && newCredential) await credentials.save(newCredential);
  if (result.success && flow === 'deregistration') await credentials.remove(accountId);
  if (!result.success && newCredential) await credentials.discard?.(newCredential);
  onEvent({ step: 'result', message: result.message, outcome: result.outcome, reasons: result.reasons });
  return result;
}
