// The shared protocol test vectors (tests/vectors/protocol.json): one file
// that the C++ implementation (this code, conformance_protocol_vectors_test)
// and the browser client (web/lib, tests under node --test) are both checked
// against, so a change on either side that breaks the wire protocol fails a
// test (docs/PROTOCOL.md; R-SRP-1..5, R-SEC-COM-4/5, R-SEC-SRV-3).
//
// The file has fixed inputs (identities, passwords, salts, the secret
// exponents a and b, channel ids, timestamps, bodies) and the outputs the
// C++ code derives from them. ComputeDeterministic() recomputes every
// deterministic output from the inputs; the sealed envelopes carry a random
// GCM nonce (the C++ channel draws it), so they are checked by opening them.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::vectors {

// The inputs the generator writes (fixed values chosen once).
nlohmann::json DefaultInputs();

// Fills every deterministic output (SRP v, A, B, S, K, M1, M2; HKDF keys;
// envelope headers = AAD; base64url texts) from `doc`'s inputs. `doc` keeps
// its inputs; outputs are overwritten.
Result<nlohmann::json> ComputeDeterministic(const nlohmann::json& doc);

// Seals the envelope bodies with the C++ SealedChannel (random GCM nonce)
// and stores wire bytes and nonce into `doc`.
Status SealEnvelopes(nlohmann::json& doc);

}  // namespace livegate::vectors
