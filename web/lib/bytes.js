// Byte helpers shared by the protocol modules: hex, base64url (RFC 4648 §5
// without padding, one canonical form — the server rejects anything else,
// docs/PROTOCOL.md), UTF-8, big-endian integers and BigInt conversion.

export class ProtocolError extends Error {
  // `reason` is a stable dotted code, like the server's (docs/API.md).
  constructor(reason, message) {
    super(message || reason);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}

export function utf8(text) { return new TextEncoder().encode(text); }
export function fromUtf8(bytes) { return new TextDecoder('utf-8', { fatal: true }).decode(bytes); }

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex) {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new ProtocolError('encoding.bad_hex', 'not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; ++i) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function toBase64Url(bytes) {
  let s = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64U[n >> 18] + B64U[(n >> 12) & 63] + B64U[(n >> 6) & 63] + B64U[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    s += B64U[n >> 18] + B64U[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    s += B64U[n >> 18] + B64U[(n >> 12) & 63] + B64U[(n >> 6) & 63];
  }
  return s;
}

// Strict: no padding, no other alphabet, unused trailing bits must be zero.
export function fromBase64Url(text) {
  const bad = () => new ProtocolError('encoding.bad_base64url', 'not canonical unpadded base64url');
  if (typeof text !== 'string' || text.length % 4 === 1) throw bad();
  const vals = new Uint8Array(text.length);
  for (let i = 0; i < text.length; ++i) {
    const v = B64U.indexOf(text[i]);
    if (v < 0) throw bad();
    vals[i] = v;
  }
  const full = Math.floor(text.length / 4);
  const rest = text.length % 4;
  const out = new Uint8Array(full * 3 + (rest ? rest - 1 : 0));
  let o = 0;
  for (let i = 0; i < full * 4; i += 4) {
    const n = (vals[i] << 18) | (vals[i + 1] << 12) | (vals[i + 2] << 6) | vals[i + 3];
    out[o++] = n >> 16; out[o++] = (n >> 8) & 255; out[o++] = n & 255;
  }
  const i = full * 4;
  if (rest === 2) {
    if (vals[i + 1] & 15) throw bad();
    out[o++] = (vals[i] << 2) | (vals[i + 1] >> 4);
  } else if (rest === 3) {
    if (vals[i + 2] & 3) throw bad();
    const n = (vals[i] << 10) | (vals[i + 1] << 4) | (vals[i + 2] >> 2);
    out[o++] = n >> 8; out[o++] = n & 255;
  }
  return out;
}

// Minimal big-endian bytes of a non-negative BigInt (0 -> empty, like Botan's encode).
export function bigToBytes(n) {
  if (n < 0n) throw new RangeError('negative');
  if (n === 0n) return new Uint8Array(0);
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return fromHex(hex);
}

// Left-padded to `len` bytes (PAD() of docs/PROTOCOL.md).
export function bigToPadded(n, len) {
  const b = bigToBytes(n);
  if (b.length > len) throw new RangeError('number wider than the modulus');
  const out = new Uint8Array(len);
  out.set(b, len - b.length);
  return out;
}

export function bytesToBig(bytes) {
  return bytes.length === 0 ? 0n : BigInt('0x' + toHex(bytes));
}

// Constant-time comparison (lengths first), like the C++ ConstantTimeEqual.
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; ++i) d |= a[i] ^ b[i];
  return d === 0;
}

export function randomBytes(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}
