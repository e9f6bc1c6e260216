// Server certificate pinning (R-CLI-SM-1 "manage certificates"): the client
// talks only to a server whose certificate (or issuing CA) it has pinned.
// An unpinned server is refused unless the user says explicitly how to trust
// it: --pin FILE (a PEM certificate or CA obtained out of band), or
// --insecure-trust-on-first-use (fetch it now, show its fingerprint, pin it).
#pragma once

#include <filesystem>
#include <string>

#include "livegate/status.h"

namespace livegate::client {

struct ServerAddress {
  std::string host;
  int port = 443;
  std::string Key() const { return host + "_" + std::to_string(port); }
};
// Only https:// URLs (R-SEC-COM: the channel runs inside TLS, decision 11.6).
// Reasons: url.bad, url.not_https.
Result<ServerAddress> ParseServerUrl(const std::string& url);

struct TrustOptions {
  std::filesystem::path pin_file;        // --pin FILE: PEM certificate or CA to trust
  bool trust_on_first_use = false;       // --insecure-trust-on-first-use
};

struct PinnedTrust {
  std::filesystem::path ca_file;   // PEM file handed to the TLS client as its only trust anchor
  std::string fingerprint;         // SHA-256 of the first certificate in it, AA:BB:...
  bool newly_pinned = false;       // true when pinned just now (TOFU or --pin)
};

// Fetches the certificate the server presents, WITHOUT verifying it (for
// trust-on-first-use and for explaining a mismatch). Reasons: pin.fetch_failed.
Result<std::string> FetchServerCertificatePem(const ServerAddress& address);
// SHA-256 fingerprint of the first certificate of a PEM text. Reasons: pin.bad_pem.
Result<std::string> CertificateFingerprint(const std::string& pem);

// Where the pin for `address` lives: <state_dir>/pins/<host>_<port>.pem.
std::filesystem::path PinPath(const std::filesystem::path& state_dir, const ServerAddress& address);

// Decides what to trust for `address`:
//  - options.pin_file given: copy it to the pin path (replacing an older pin);
//  - else an existing pin: use it;
//  - else trust_on_first_use: fetch, store, use;
//  - else refuse: PermissionDenied(pin.unpinned_server), with the fingerprint the
//    server presents now in the message so the user can check it out of band.
Result<PinnedTrust> ResolveTrust(const std::filesystem::path& state_dir, const ServerAddress& address,
                                 const TrustOptions& options);

}  // namespace livegate::client
