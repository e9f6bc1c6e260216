// Status and Result<T>: how every module reports an outcome across its
// boundary (leveldb's Status, abseil's StatusOr). A spoof verdict or a
// non-match is NOT an error: it is a decision inside a successful Result.
//
// Public header: standard library only.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace livegate {

// Whose fault is it, and how should a caller (or an HTTP layer) react?
enum class StatusCode {
  kOk = 0,
  kBadInput,            // malformed or hostile input from a peer or a file -> 400
  kTooLarge,            // input over a configured size limit -> 413
  kUnsupported,         // well-formed but not supported (format, group, version)
  kInvalidArgument,     // the caller (our own code) broke a precondition
  kNotFound,
  kAlreadyExists,
  kUnauthenticated,     // every authentication failure looks the same -> 401
  kPermissionDenied,    // authenticated but not allowed -> 403
  kReplay,              // replayed / reordered / stale message (R-SEC-SRV-3)
  kExpired,             // challenge, channel or session past its lifetime
  kResourceExhausted,   // rate limit or lockout -> 429
  kFailedPrecondition,  // the system is not in a state for this (wrong flow step)
  kUnavailable,         // a dependency (database, model file) is unreachable
  kDataLoss,            // integrity check failed on stored data
  kInternal,            // a bug or an unexpected library failure
};

std::string_view StatusCodeName(StatusCode code);

// A Status carries a code, a stable machine-readable reason (dotted,
// e.g. "image.truncated", "seal.sequence_reordered") that tests and clients
// match on, and a human-readable message.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadInput(std::string reason, std::string message) {
    return {StatusCode::kBadInput, std::move(reason), std::move(message)};
  }
  static Status TooLarge(std::string reason, std::string message) {
    return {StatusCode::kTooLarge, std::move(reason), std::move(message)};
  }
  static Status Unsupported(std::string reason, std::string message) {
    return {StatusCode::kUnsupported, std::move(reason), std::move(message)};
  }
  static Status InvalidArgument(std::string reason, std::string message) {
    return {StatusCode::kInvalidArgument, std::move(reason), std::move(message)};
  }
  static Status NotFound(std::string reason, std::string message) {
    return {StatusCode::kNotFound, std::move(reason), std::move(message)};
  }
  static Status Unauthenticated(std::string reason, std::string message) {
    return {StatusCode::kUnauthenticated, std::move(reason), std::move(message)};
  }
  static Status Internal(std::string reason, std::string message) {
    return {StatusCode::kInternal, std::move(reason), std::move(message)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  // "BadInput(image.truncated): the file ends ..."
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string reason_;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result constructed from an OK status without a value");
    if (status_.ok()) status_ = Status::Internal("result.empty", "OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  // By value, so that `for (auto& x : F().value())` never binds to a
  // destroyed temporary.
  T value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace livegate

// Propagate a non-OK Status from an expression returning Status.
#define LG_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::livegate::Status lg_status_ = (expr);      \
    if (!lg_status_.ok()) return lg_status_;     \
  } while (0)

#define LG_CONCAT_INNER_(a, b) a##b
#define LG_CONCAT_(a, b) LG_CONCAT_INNER_(a, b)
// LG_ASSIGN_OR_RETURN(auto x, MakeX()); propagates the error status.
#define LG_ASSIGN_OR_RETURN(lhs, rexpr) \
  LG_ASSIGN_OR_RETURN_IMPL_(LG_CONCAT_(lg_result_, __LINE__), lhs, rexpr)
#define LG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
