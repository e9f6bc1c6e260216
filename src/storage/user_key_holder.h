// Master-key rotation of the per-user data keys (R-SEC-STO-1/2, R-SEC-STO-3;
// X.1279 section 11 decision 5): the reference database as a
// crypto::WrappedKeyHolder, so `livegate-admin keys rotate` re-wraps every
// user's data key under the current KEK while servers keep running.
//
// Only the wrapped data key changes: the data key itself, the sealed
// transform key and the templates stay as they are (they are under the data
// key, not the KEK), so rotation costs one unwrap + wrap per user.
#pragma once

#include <memory>

#include "crypto/key_store.h"
#include "storage/reference_store.h"

namespace livegate::storage {

struct UserKeyHolderOptions {
  // Accounts listed per page (bounded memory on large databases). Default 500.
  int page_size = 500;
  // Attempts per user when a concurrent key renewal changes the row between
  // read and write (storage.user_key_conflict). Default 3.
  int max_attempts = 3;
};

// Walks user_keys page by page. For each account it reads the row, asks
// `rewrap` (purpose TemplateProtector::DataKeyPurpose(account)) and, when new
// bytes come back, replaces the wrapped key with a compare-and-set
// (StoreOps::RewrapUserKey) so that a renewal that happened meanwhile is
// never overwritten; the row is then read again and retried. A user key
// deleted meanwhile (deregistration) is skipped. Each account is its own
// transaction: servers are never blocked for long.
// A storage error, or an error returned by `rewrap`, stops the walk and is
// returned (crypto::RewrapAll itself records per-key unwrap failures and
// answers "no change", so the walk goes on past them). After a conflict the
// row is offered to `rewrap` again (counted again in the report).
std::unique_ptr<crypto::WrappedKeyHolder> UserKeyHolder(ReferenceStore& store,
                                                        UserKeyHolderOptions options = {});

}  // namespace livegate::storage
