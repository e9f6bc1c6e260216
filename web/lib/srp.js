// SRP-6a client (docs/PROTOCOL.md section 1; R-SRP-1..5) with BigInt and
// WebCrypto digests — the same construction as src/crypto/srp6a.cc:
//   k  = H(N | PAD(g))          x = H(s | H(I | ":" | P))     v = g^x mod N
//   A  = g^a mod N              u = H(PAD(A) | PAD(B))
//   S  = (B - k*g^x)^(a + u*x) mod N          K = H(S)
//   M1 = H(H(N) xor H(g) | H(I) | s | A | B | K)      M2 = H(A | M1 | K)
// (PAD = left-padded to the modulus width; otherwise minimal big-endian.)
// Checked against tests/vectors/protocol.json (web/test/protocol.test.mjs).
import { ProtocolError, bigToBytes, bigToPadded, bytesToBig, concat, equalBytes, randomBytes, utf8 } from './bytes.js';
import { SRP_GROUPS } from './srp_groups.js';

const HASHES = { 'SHA-256': 'SHA-256', 'SHA-384': 'SHA-384', 'SHA-512': 'SHA-512' };
const SECRET_EXPONENT_BYTES = 32;  // 256-bit a (RFC 5054 2.5.4 minimum), as the C++ client

async function digest(hash, ...parts) {
  return new Uint8Array(await globalThis.crypto.subtle.digest(hash, concat(...parts)));
}

// Right-to-left square-and-multiply. Not constant time: BigInt offers no
// constant-time arithmetic (docs/WEB.md says what that means for a browser).
export function modPow(base, exp, mod) {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

export class SrpGroup {
  // `group`, `hash`: the names the server sends in the start answer.
  static async create(group, hash) {
    const g = SRP_GROUPS[group];
    if (!g) throw new ProtocolError('srp.group_not_allowed', `this client does not know the SRP group ${group}`);
    const h = HASHES[hash];
    if (!h) throw new ProtocolError('srp.hash_not_allowed', `this client does not know the hash ${hash}`);
    const self = new SrpGroup();
    self.name = group;
    self.hash = h;
    self.N = g.N;
    self.g = g.g;
    self.nBytes = bigToBytes(g.N).length;
    self.k = bytesToBig(await digest(h, bigToBytes(g.N), bigToPadded(g.g, self.nBytes)));
    const hn = await digest(h, bigToBytes(g.N));
    const hg = await digest(h, bigToBytes(g.g));
    self.hnXorHg = hn.map((b, i) => b ^ hg[i]);
    return self;
  }

  H(...parts) { return digest(this.hash, ...parts); }

  async computeX(identity, password, salt) {
    const inner = await this.H(utf8(identity), utf8(':'), utf8(password));
    return bytesToBig(await this.H(salt, inner));
  }
}

// The registration record for a new device credential (what the server
// stores: never the secret). Returns {salt, verifier} bytes (verifier minimal).
export async function makeVerifier(group, identity, password, salt = randomBytes(32)) {
  const x = await group.computeX(identity, password, salt);
  return { salt, verifier: bigToBytes(modPow(group.g, x, group.N)) };
}

// Client side of one exchange. `respond` takes the server's salt and B
// (bytes) and yields A (PAD) and M1 to send; verifyServer() checks M2.
export class SrpClientSession {
  static async respond(group, identity, password, salt, Bbytes, aBytes = randomBytes(SECRET_EXPONENT_BYTES)) {
    if (salt.length === 0 || salt.length > 1024) throw new ProtocolError('srp.bad_salt', 'SRP salt must be 1..1024 bytes');
    const illegal = () => new ProtocolError('srp.illegal_public_value', 'illegal SRP public value B');
    if (Bbytes.length > group.nBytes) throw illegal();
    const B = bytesToBig(Bbytes);
    if (B >= group.N || B % group.N === 0n) throw illegal();
    const { N, g } = group;
    const a = bytesToBig(aBytes);
    const A = modPow(g, a, N);
    const u = bytesToBig(await group.H(bigToPadded(A, group.nBytes), bigToPadded(B, group.nBytes)));
    if (u === 0n) throw new ProtocolError('srp.u_zero', 'SRP u is zero');
    const x = await group.computeX(identity, password, salt);
    const kgx = (group.k * modPow(g, x, N)) % N;
    const base = (B + N - kgx) % N;
    const S = modPow(base, a + u * x, N);
    const s = new SrpClientSession();
    s.premasterSecret = bigToBytes(S);
    s.sessionKey = await group.H(s.premasterSecret);
    s.A = bigToPadded(A, group.nBytes);
    s.M1 = await group.H(group.hnXorHg, await group.H(utf8(identity)), salt, bigToBytes(A), bigToBytes(B), s.sessionKey);
    s.expectedM2 = await group.H(bigToBytes(A), s.M1, s.sessionKey);
    s.confirmed = false;
    return s;
  }

  // Mutual authentication: the server proves it knows the verifier.
  verifyServer(M2) {
    if (!equalBytes(M2, this.expectedM2)) {
      this.confirmed = false;
      throw new ProtocolError('srp.server_proof_mismatch', 'the server did not prove knowledge of the verifier');
    }
    this.confirmed = true;
  }
}
