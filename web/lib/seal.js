// Sealed messages (docs/PROTOCOL.md sections 2 and 3; R-SEC-COM-4/5,
// R-SEC-SRV-3) — the browser twin of src/crypto/sealed_channel.cc and
// src/protocol/envelope.cc. Wire envelope:
//   header (58 bytes = the GCM AAD) | GCM nonce (12) | ciphertext | tag (16)
//   header: "LGSM" | 0x01 | direction | channel_id(16) | sequence u64 |
//           timestamp_ms i64 | server_nonce(16) | body_length u32   (big-endian)
// The direction keys are derived straight into non-extractable AES-GCM
// CryptoKeys, so page script never holds them as bytes.
import { ProtocolError, concat, equalBytes, randomBytes, utf8 } from './bytes.js';

export const HEADER_SIZE = 58;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const ENVELOPE_OVERHEAD = HEADER_SIZE + NONCE_SIZE + TAG_SIZE;  // 86
export const CLIENT_TO_SERVER = 1;
export const SERVER_TO_CLIENT = 2;
const MAGIC = utf8('LGSM');

export function encodeHeader({ direction, channelId, sequence, timestampMs, serverNonce, bodyLength }) {
  const h = new Uint8Array(HEADER_SIZE);
  const dv = new DataView(h.buffer);
  h.set(MAGIC, 0);
  h[4] = 1;
  h[5] = direction;
  h.set(channelId, 6);
  dv.setBigUint64(22, BigInt(sequence));
  dv.setBigInt64(30, BigInt(timestampMs));
  h.set(serverNonce, 38);
  dv.setUint32(54, bodyLength);
  return h;
}

export function decodeHeader(bytes) {
  if (bytes.length !== HEADER_SIZE || !equalBytes(bytes.subarray(0, 4), MAGIC) || bytes[4] !== 1 ||
      (bytes[5] !== CLIENT_TO_SERVER && bytes[5] !== SERVER_TO_CLIENT)) {
    throw new ProtocolError('seal.malformed_header', 'malformed envelope header');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    direction: bytes[5],
    channelId: bytes.slice(6, 22),
    sequence: dv.getBigUint64(22),
    timestampMs: Number(dv.getBigInt64(30)),
    serverNonce: bytes.slice(38, 54),
    bodyLength: dv.getUint32(54),
  };
}

async function deriveAesKey(sessionKey, salt, info) {
  const ikm = await globalThis.crypto.subtle.importKey('raw', sessionKey, 'HKDF', false, ['deriveKey']);
  return globalThis.crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt, info: utf8(info) }, ikm,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

export class SealedChannel {
  // role: 'client' (the browser) or 'server' (tests only). Options as the C++
  // ChannelOptions: timestampWindowMs 30 s, lifetimeMs 10 min, maxBodyBytes 16 MiB.
  static async create(sessionKey, channelId, serverNonce, role = 'client', options = {}, clock = () => Date.now()) {
    if (sessionKey.length < 16) throw new ProtocolError('seal.bad_key', 'session key too short');
    if (channelId.length !== 16 || serverNonce.length !== 16) throw new ProtocolError('seal.bad_channel', 'channel id and server nonce are 16 bytes');
    const c = new SealedChannel();
    const salt = concat(channelId, serverNonce);
    const c2s = await deriveAesKey(sessionKey, salt, 'livegate/seal/v1/c2s');
    const s2c = await deriveAesKey(sessionKey, salt, 'livegate/seal/v1/s2c');
    c.role = role;
    c.sendDirection = role === 'client' ? CLIENT_TO_SERVER : SERVER_TO_CLIENT;
    c.receiveDirection = role === 'client' ? SERVER_TO_CLIENT : CLIENT_TO_SERVER;
    c.sendKey = role === 'client' ? c2s : s2c;
    c.receiveKey = role === 'client' ? s2c : c2s;
    c.channelId = channelId.slice();
    c.serverNonce = serverNonce.slice();
    c.nextSend = 0n;
    c.nextReceive = 0n;
    c.timestampWindowMs = options.timestampWindowMs ?? 30000;
    c.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    c.clock = clock;
    c.expiresAtMs = clock() + (options.lifetimeMs ?? 600000);
    return c;
  }

  // Returns the wire envelope. `gcmNonce` only for known-answer tests.
  async seal(body, gcmNonce = randomBytes(NONCE_SIZE)) {
    if (typeof body === 'string') body = utf8(body);
    if (body.length > this.maxBodyBytes) throw new ProtocolError('seal.body_too_large', 'message too large');
    const now = this.clock();
    if (now > this.expiresAtMs) throw new ProtocolError('seal.channel_expired', 'the secure channel expired');
    const header = encodeHeader({ direction: this.sendDirection, channelId: this.channelId, sequence: this.nextSend,
      timestampMs: now, serverNonce: this.serverNonce, bodyLength: body.length });
    const sealed = new Uint8Array(await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: gcmNonce, additionalData: header, tagLength: 128 }, this.sendKey, body));
    this.nextSend += 1n;
    return concat(header, gcmNonce, sealed);
  }

  // Checks in the order of docs/PROTOCOL.md section 3; a rejection leaves the
  // channel unchanged. Returns the body bytes.
  async open(wire, maxEnvelopeBytes = this.maxBodyBytes + ENVELOPE_OVERHEAD) {
    if (wire.length > maxEnvelopeBytes) throw new ProtocolError('envelope.too_large', 'envelope too large');
    if (wire.length < ENVELOPE_OVERHEAD) throw new ProtocolError('envelope.truncated', 'envelope truncated');
    const headerBytes = wire.subarray(0, HEADER_SIZE);
    const h = decodeHeader(headerBytes);
    if (wire.length !== ENVELOPE_OVERHEAD + h.bodyLength) throw new ProtocolError('envelope.length_mismatch', 'envelope length mismatch');
    if (!equalBytes(h.channelId, this.channelId) || !equalBytes(h.serverNonce, this.serverNonce)) {
      throw new ProtocolError('seal.wrong_channel', 'message of another channel');
    }
    if (h.direction !== this.receiveDirection) throw new ProtocolError('seal.wrong_direction', 'message in the wrong direction');
    const now = this.clock();
    if (now > this.expiresAtMs) throw new ProtocolError('seal.channel_expired', 'the secure channel expired');
    let body;
    try {
      body = new Uint8Array(await globalThis.crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: wire.subarray(HEADER_SIZE, HEADER_SIZE + NONCE_SIZE), additionalData: headerBytes, tagLength: 128 },
        this.receiveKey, wire.subarray(HEADER_SIZE + NONCE_SIZE)));
    } catch {
      throw new ProtocolError('seal.auth_failed', 'the message was modified or sealed with another key');
    }
    if (h.sequence < this.nextReceive) throw new ProtocolError('seal.replayed', 'replayed or old message');
    if (h.sequence > this.nextReceive) throw new ProtocolError('seal.sequence_skipped', 'skipped or reordered message');
    if (Math.abs(h.timestampMs - now) > this.timestampWindowMs) {
      throw new ProtocolError('seal.timestamp_out_of_window', 'message timestamp outside the accepted window (is this device\'s clock right?)');
    }
    this.nextReceive += 1n;
    return body;
  }
}
