// The browser client's protocol code against the shared vectors
// (tests/vectors/protocol.json, written by the C++ implementation and checked
// against it by tests/vectors/conformance_protocol_vectors_test.cc).
// Run: node --test web/test/   (Node >= 20: WebCrypto is globalThis.crypto)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from '../lib/bytes.js';
import { hkdfSha256, channelKeys } from '../lib/kdf.js';
import { SealedChannel, encodeHeader, decodeHeader } from '../lib/seal.js';
import { SrpClientSession, SrpGroup, makeVerifier } from '../lib/srp.js';
import { SRP_GROUPS } from '../lib/srp_groups.js';
import { deviceSecret, generateCredential } from '../lib/credential.js';

const vectorsPath = process.env.LIVEGATE_PROTOCOL_VECTORS ||
  new URL('../../tests/vectors/protocol.json', import.meta.url);
const V = JSON.parse(readFileSync(vectorsPath, 'utf8'));
const ch = V.channel;

async function channel(role, nowRef) {
  return SealedChannel.create(fromHex(ch.session_key), fromHex(ch.channel_id), fromHex(ch.server_nonce), role, {},
    () => nowRef.now);
}

test('vector file has both SRP cases and four envelopes', () => {
  assert.equal(V.srp.length, 2);
  assert.equal(V.envelopes.length, 4);
});

test('SRP group constants equal the C++ groups', () => {
  for (const c of V.srp) {
    const g = SRP_GROUPS[c.group];
    assert.ok(g, c.group);
    assert.equal(g.N.toString(16), c.N);
    assert.equal(g.g.toString(16).padStart(2, '0'), c.g);
  }
});

for (const c of V.srp) {
  test(`SRP-6a client: ${c.name}`, async () => {
    const group = await SrpGroup.create(c.group, c.hash);
    const v = await makeVerifier(group, c.identity, c.password, fromHex(c.salt));
    assert.equal(toHex(v.verifier), c.verifier);
    const s = await SrpClientSession.respond(group, c.identity, c.password, fromHex(c.salt), fromHex(c.B), fromHex(c.a));
    assert.equal(toHex(s.A), c.A);
    assert.equal(s.A.length, group.nBytes);
    assert.equal(toHex(s.premasterSecret), c.premaster_S);
    assert.equal(toHex(s.sessionKey), c.K);
    assert.equal(toHex(s.M1), c.M1);
    s.verifyServer(fromHex(c.M2));
    assert.equal(s.confirmed, true);
    const m2 = fromHex(c.M2);
    m2[m2.length - 1] ^= 1;
    assert.throws(() => s.verifyServer(m2), { reason: 'srp.server_proof_mismatch' });
    assert.equal(s.confirmed, false);
  });
}

test('SRP client refuses illegal B, unknown groups and hashes', async () => {
  const c = V.srp[0];
  const group = await SrpGroup.create(c.group, c.hash);
  const N = fromHex(c.N);
  for (const B of [new Uint8Array(group.nBytes), N, new Uint8Array(group.nBytes + 1).fill(1)]) {
    await assert.rejects(SrpClientSession.respond(group, c.identity, c.password, fromHex(c.salt), B),
      { reason: 'srp.illegal_public_value' });
  }
  await assert.rejects(SrpGroup.create('modp/srp/1024', 'SHA-256'), { reason: 'srp.group_not_allowed' });
  await assert.rejects(SrpGroup.create('modp/srp/3072', 'SHA-1'), { reason: 'srp.hash_not_allowed' });
});

test('HKDF-SHA256: RFC 5869 A.1 and the channel keys', async () => {
  for (const h of V.hkdf) {
    assert.equal(toHex(await hkdfSha256(fromHex(h.ikm), fromHex(h.salt), fromHex(h.info), h.length)), h.okm);
  }
  const keys = await channelKeys(fromHex(ch.session_key), fromHex(ch.channel_id), fromHex(ch.server_nonce));
  assert.equal(toHex(keys.c2s), ch.key_c2s);
  assert.equal(toHex(keys.s2c), ch.key_s2c);
  assert.equal(ch.session_key, V.srp[ch.srp_case].K);
});

test('base64url: the C++ texts, and non-canonical forms refused', () => {
  for (const b of V.base64url) {
    assert.equal(toBase64Url(fromHex(b.hex)), b.text);
    assert.equal(toHex(fromBase64Url(b.text)), b.hex);
  }
  for (const bad of ['_w==', '_x', 'a', 'ab+/', 'ab c']) {
    assert.throws(() => fromBase64Url(bad), { reason: 'encoding.bad_base64url' }, bad);
  }
});

test('envelope header bytes (the GCM AAD) equal the C++ encoding', () => {
  for (const e of V.envelopes) {
    const h = encodeHeader({ direction: e.direction, channelId: fromHex(ch.channel_id), sequence: BigInt(e.sequence),
      timestampMs: e.timestamp_ms, serverNonce: fromHex(ch.server_nonce), bodyLength: utf8(e.body_utf8).length });
    assert.equal(toHex(h), e.aad, e.name);
    const d = decodeHeader(h);
    assert.equal(d.timestampMs, e.timestamp_ms);
    assert.equal(d.sequence, BigInt(e.sequence));
  }
});

test('sealing with the vector nonce gives the C++ envelope byte for byte; the C++ envelopes open', async () => {
  const t = { now: V.envelopes[0].timestamp_ms };
  const client = await channel('client', t);
  const server = await channel('server', t);
  for (const e of V.envelopes) {
    t.now = e.timestamp_ms;
    const wire = fromBase64Url(e.wire);
    if (e.direction === 1) {
      const mine = await client.seal(utf8(e.body_utf8), fromHex(e.gcm_nonce));
      assert.equal(toBase64Url(mine), e.wire, e.name);
      assert.equal(new TextDecoder().decode(await server.open(wire)), e.body_utf8);
    } else {
      assert.equal(new TextDecoder().decode(await client.open(wire)), e.body_utf8, e.name);
      await assert.rejects(client.open(wire), { reason: 'seal.replayed' });
    }
  }
});

test('open: every refusal of docs/PROTOCOL.md section 3, channel unchanged after each', async () => {
  const e = V.envelopes[1];  // server -> client, sequence 0
  const t = { now: e.timestamp_ms };
  const client = await channel('client', t);
  const good = fromBase64Url(e.wire);
  const mutate = (f) => { const w = good.slice(); f(w); return w; };
  const cases = [
    [good.subarray(0, 85), 'envelope.truncated'],
    [mutate((w) => { w[0] ^= 1; }), 'seal.malformed_header'],
    [mutate((w) => { w[5] = 3; }), 'seal.malformed_header'],
    [good.subarray(0, good.length - 1), 'envelope.length_mismatch'],
    [mutate((w) => { w[6] ^= 0x80; }), 'seal.wrong_channel'],
    [mutate((w) => { w[40] ^= 1; }), 'seal.wrong_channel'],
    [mutate((w) => { w[29] ^= 1; }), 'seal.auth_failed'],           // sequence byte: authenticated first
    [mutate((w) => { w[37] ^= 1; }), 'seal.auth_failed'],           // timestamp byte
    [mutate((w) => { w[good.length - 1] ^= 1; }), 'seal.auth_failed'],  // tag
    [mutate((w) => { w[75] ^= 0x80; }), 'seal.auth_failed'],        // ciphertext
  ];
  for (const [wire, reason] of cases) {
    await assert.rejects(client.open(wire), { reason }, reason);
  }
  // A client-to-server envelope reflected back to the client.
  const reflected = fromBase64Url(V.envelopes[0].wire);
  await assert.rejects(client.open(reflected), { reason: 'seal.wrong_direction' });
  // Clock 31 s off: the timestamp is outside the 30 s window.
  t.now = e.timestamp_ms + 31000;
  await assert.rejects(client.open(good), { reason: 'seal.timestamp_out_of_window' });
  // Skipping: sequence 1 before 0.
  t.now = V.envelopes[3].timestamp_ms;
  await assert.rejects(client.open(fromBase64Url(V.envelopes[3].wire)), { reason: 'seal.sequence_skipped' });
  // After all of that the untouched envelope still opens: nothing advanced.
  t.now = e.timestamp_ms;
  assert.equal(new TextDecoder().decode(await client.open(good)), e.body_utf8);
  assert.equal(client.nextReceive, 1n);
  // Too large before anything else.
  await assert.rejects(client.open(good, 100), { reason: 'envelope.too_large' });
  // An expired channel neither seals nor opens.
  t.now = e.timestamp_ms + 10 * 60000 + 1;
  await assert.rejects(client.seal(utf8('x')), { reason: 'seal.channel_expired' });
});

test('device credential: non-extractable key, stable hex secret of the C++ shape', async () => {
  const cred = await generateCredential('alice');
  assert.match(cred.deviceId, /^web-[0-9a-f]{16}$/);
  assert.equal(cred.key.extractable, false);
  await assert.rejects(globalThis.crypto.subtle.exportKey('raw', cred.key));
  const s1 = await deviceSecret(cred);
  assert.match(s1, /^[0-9a-f]{64}$/);
  assert.equal(await deviceSecret(cred), s1);
  assert.notEqual(await deviceSecret(await generateCredential('alice')), s1);
});
