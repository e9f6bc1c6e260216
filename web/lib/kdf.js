// HKDF-SHA256 (RFC 5869) through WebCrypto, as src/crypto/kdf.cc.
import { concat, utf8 } from './bytes.js';

export async function hkdfSha256(ikm, salt, info, length) {
  const key = await globalThis.crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await globalThis.crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, length * 8);
  return new Uint8Array(bits);
}

// The sealed channel's two keys (docs/PROTOCOL.md section 2).
export async function channelKeys(sessionKey, channelId, serverNonce) {
  const salt = concat(channelId, serverNonce);
  return {
    c2s: await hkdfSha256(sessionKey, salt, utf8('livegate/seal/v1/c2s'), 32),
    s2c: await hkdfSha256(sessionKey, salt, utf8('livegate/seal/v1/s2c'), 32),
  };
}
