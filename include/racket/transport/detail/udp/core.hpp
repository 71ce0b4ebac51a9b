// SPDX-License-Identifier: MIT
#pragma once

// What every piece of a udp_transport shares, owned by the transport: the io_context, the
// options, the counters and the error handler (and which family an endpoint is). Holds no
// socket and takes no lock but the error handler's own; knows nothing of interfaces, ports or
// receivers.
//
// A piece's pending operation (a flush, a read) holds a reference to the core, which dies with
// the transport: it checks its own `closed` flag, which close() sets, before touching the core.

#include "racket/transport/concepts.hpp"

#include <asio/io_context.hpp>

#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>

namespace racket::detail::udp {

inline address_family family_of(const endpoint& ep) noexcept {
  return ep.group.is_v4() ? address_family::v4 : address_family::v6;
}

class core {
 public:
  core(asio::io_context& io, const transport_options& options) : io(io), options(options) {}

  core(const core&) = delete;
  core& operator=(const core&) = delete;

  void set_error_handler(transport_error_handler handler) {
    std::lock_guard lock(error_mutex_);
    on_error_ = std::move(handler);
  }

  // Calls the error handler, if any, with a copy taken under its lock: the handler itself runs
  // unlocked and may call back into the transport.
  void report(const std::error_code& ec, std::string_view interface_name) {
    transport_error_handler h;
    {
      std::lock_guard lock(error_mutex_);
      h = on_error_;
    }
    if (h) h(ec, interface_name);
  }

  asio::io_context& io;
  const transport_options options;
  transport_stats stats;

 private:
  transport_error_handler on_error_;
  std::mutex error_mutex_;  // guards on_error_ only (set from any thread, read when reporting)
};

}  // namespace racket::detail::udp
