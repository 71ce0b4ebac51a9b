// SPDX-License-Identifier: MIT
#pragma once

// Where a publisher hears snapshot and repair requests: one transport receiver per request
// group and port (opened once, when the first stream mapping there sends its first record),
// and the first look at what arrives there (only requests, decoded, addressed to everyone or
// to this publisher). The orchestrator finds the stream and hands the request to its
// responder. Knows nothing of streams, caches, timers or locks (the caller holds the
// transport's).

#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <cstdint>
#include <span>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace racket::detail {

class request_listeners {
 public:
  bool contains(const endpoint& at) const { return listeners_.contains(at); }

  // Opens a receiver on `at` calling on_request(std::span<const std::byte>, const receive_info&).
  // Best effort: on failure nothing is opened (the stream is not answered).
  template <class Transport, class OnRequest>
  void open(Transport& transport, const endpoint& at, OnRequest&& on_request) {
    if (listeners_.contains(at)) return;
    std::error_code ec;
    receiver_id id;
    if constexpr (kind_filtering_transport<Transport>) {
      // Where the transport can filter in the kernel, only requests wake the listener: the
      // group's data (the publisher's own, looped back) never reaches it.
      id = transport.open_receiver(at, std::forward<OnRequest>(on_request), ec,
                                   static_cast<int>(wire::kind::snapshot_request));
    } else {
      id = transport.open_receiver(at, std::forward<OnRequest>(on_request), ec);
    }
    if (!ec) listeners_.emplace(at, id);
  }

  // A datagram heard on a request group: true and `out` set when it is a valid request for
  // every publisher or for `publisher_id`; data of streams that map there is dropped after a
  // look at six bytes.
  static bool accept(std::span<const std::byte> bytes, std::uint64_t publisher_id, wire::request_view& out) {
    if (wire::peek_kind(bytes) != wire::kind::snapshot_request) return false;
    std::error_code ec;
    out = wire::decode_request(bytes, ec);
    if (ec) return false;
    return out.target_publisher() == 0 || out.target_publisher() == publisher_id;
  }

 private:
  std::unordered_map<endpoint, receiver_id, endpoint_hash> listeners_;  // per (group, port)
};

}  // namespace racket::detail
