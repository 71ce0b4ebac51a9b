// SPDX-License-Identifier: MIT
#pragma once

// The strand that every udp_transport made from one execution context (rather than from an
// executor) shares: a service of that context, made on first use. Objects that share it are
// serialised together, so a publish made from a subscriber's handler is already on the
// publisher's strand and goes out on the spot, without a hand-off between strands (measured:
// the hand-off was most of what strands added to a round trip on one thread). Knows nothing
// of sockets.

#include "racket/transport/detail/udp/core.hpp"

#include <asio/execution_context.hpp>

#include <mutex>
#include <optional>

namespace racket::detail::udp {

class context_strand_service : public asio::execution_context::service {
 public:
  using key_type = context_strand_service;
  static inline asio::execution_context::id id;

  explicit context_strand_service(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

  // The shared strand, over `ex` (an executor of this service's context) when first asked.
  template <class Executor>
  strand_type get(const Executor& ex) {
    std::lock_guard lock(mutex_);
    if (!strand_) strand_.emplace(asio::any_io_executor(ex));
    return *strand_;
  }

 private:
  void shutdown() override {
    std::lock_guard lock(mutex_);
    strand_.reset();
  }

  std::mutex mutex_;
  std::optional<strand_type> strand_;
};

// `ctx`'s shared strand.
template <class ExecutionContext>
strand_type context_strand(ExecutionContext& ctx) {
  return asio::use_service<context_strand_service>(ctx).get(ctx.get_executor());
}

}  // namespace racket::detail::udp
