// Per-user data keys as a crypto::WrappedKeyHolder (R-SEC-STO-1/2/3).
#include "storage/user_key_holder.h"

#include <string>
#include <utility>

#include "storage/template_protection.h"

namespace livegate::storage {
namespace {

class UserKeyHolderImpl : public crypto::WrappedKeyHolder {
 public:
  UserKeyHolderImpl(ReferenceStore& store, UserKeyHolderOptions options)
      : store_(store), options_(options) {}

  std::string name() const override { return std::string("user keys (") + store_.backend_name() + ")"; }

  Status ForEachWrappedKey(const crypto::RewrapFn& rewrap) override {
    std::string after;
    for (;;) {
      LG_ASSIGN_OR_RETURN(std::vector<std::string> page,
                          store_.ListUserKeyAccounts(after, options_.page_size));
      for (const std::string& account : page) LG_RETURN_IF_ERROR(RewrapOne(account, rewrap));
      if (static_cast<int>(page.size()) < options_.page_size) return Status::Ok();
      after = page.back();
    }
  }

 private:
  Status RewrapOne(const std::string& account, const crypto::RewrapFn& rewrap) {
    const std::string purpose = TemplateProtector::DataKeyPurpose(account);
    Status last = Status::Ok();
    for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
      last = store_.Transact([&](StoreOps& tx) -> Status {
        auto row = tx.GetUserKey(account);
        // Deregistered since it was listed: nothing left to protect.
        if (!row.ok() && row.status().reason() == "storage.user_key_not_found") return Status::Ok();
        if (!row.ok()) return row.status();
        LG_ASSIGN_OR_RETURN(std::optional<crypto::Bytes> fresh,
                            rewrap(purpose, row->wrapped_data_key));
        if (!fresh) return Status::Ok();
        const Status st = tx.RewrapUserKey(account, row->wrapped_data_key, *fresh);
        if (st.reason() == "storage.user_key_not_found") return Status::Ok();
        return st;
      });
      if (last.reason() != "storage.user_key_conflict") return last;
    }
    return last;
  }

  ReferenceStore& store_;
  UserKeyHolderOptions options_;
};

}  // namespace

std::unique_ptr<crypto::WrappedKeyHolder> UserKeyHolder(ReferenceStore& store,
                                                        UserKeyHolderOptions options) {
  if (options.page_size < 1) options.page_size = 1;
  if (options.page_size > 10000) options.page_size = 10000;
  if (options.max_attempts < 1) options.max_attempts = 1;
  return std::make_unique<UserKeyHolderImpl>(store, options);
}

}  // namespace livegate::storage
