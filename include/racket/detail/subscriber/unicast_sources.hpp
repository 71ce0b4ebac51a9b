// SPDX-License-Identifier: MIT
#pragma once

// Where a subscriber's requests go back by unicast (subscriber_options::unicast_port): per
// stream, the address each publisher's datagrams last came from by unicast, in a bounded
// table (a full stream replaces its least recently heard source, counted), and the first
// look at a datagram heard on the unicast port (its stream and publisher, from the clear
// header, or the streams a publisher's announcement names). Plain bookkeeping, under the subscriber's lock: knows nothing of sockets, channels
// or requests' content.

#include "racket/detail/wire_bytes.hpp"
#include "racket/endpoint.hpp"
#include "racket/wire/announce.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket::detail {

class unicast_sources {
 public:
  // Sources kept per stream (publishers heard by unicast on it).
  static constexpr std::size_t max_per_stream = 16;

  // The stream and publisher of a clear datagram of kind 1 (data, fragments) or 2 (request):
  // the name's length at offset 16, the name after it, the sender's id at offset 8. False for
  // anything else (a sealed datagram is looked at once opened).
  static bool peek(std::span<const std::byte> d, std::string_view& stream, std::uint64_t& sender) noexcept {
    if (d.size() < 18) return false;
    const auto kind = std::to_integer<unsigned>(d[5]);
    if (kind != 1 && kind != 2) return false;
    const std::size_t n = std::to_integer<std::size_t>(d[16]);
    if (n == 0 || d.size() < 17 + n) return false;
    stream = std::string_view(reinterpret_cast<const char*>(d.data() + 17), n);
    sender = load_u64(d.data() + 8);
    return true;
  }

  // A publisher's announcement (kind 3) heard on the unicast port: f(std::string_view stream,
  // std::uint64_t publisher) for each stream it announces. False when it is not a valid
  // publisher announcement.
  template <class F>
  static bool for_each_announced(std::span<const std::byte> d, std::size_t max_size, F&& f) {
    std::error_code ec;
    const wire::announcement_view a = wire::decode_announcement(d, ec, max_size);
    if (ec || a.role() != wire::announce_role::publisher) return false;
    a.for_each_publication([&](const wire::announced_publication& p) { f(std::string_view(p.stream), a.sender_id()); });
    return true;
  }

  // `publisher` was heard on `stream` from `source`. True when that is news (a publisher not
  // heard by unicast on the stream before, or from another address): the caller may then ask
  // it for a snapshot.
  bool note(std::string_view stream, std::uint64_t publisher, const endpoint& source) {
    ++clock_;
    auto it = streams_.find(stream);
    if (it == streams_.end()) it = streams_.emplace(std::string(stream), std::vector<entry>{}).first;
    auto& v = it->second;
    entry* oldest = nullptr;
    for (entry& e : v) {
      if (e.publisher == publisher) {
        e.heard = clock_;
        if (e.source == source) return false;
        e.source = source;
        return true;
      }
      if (oldest == nullptr || e.heard < oldest->heard) oldest = &e;
    }
    if (v.size() < max_per_stream) {
      v.push_back(entry{publisher, source, clock_});
    } else {
      ++full_;
      *oldest = entry{publisher, source, clock_};
    }
    return true;
  }

  // Calls f(const endpoint&) for every source known on `stream` (each address once).
  template <class F>
  void for_each(std::string_view stream, F&& f) const {
    const auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    const auto& v = it->second;
    for (std::size_t i = 0; i < v.size(); ++i) {
      bool seen = false;
      for (std::size_t k = 0; k < i && !seen; ++k) seen = v[k].source == v[i].source;
      if (!seen) f(v[i].source);
    }
  }

  // The stream is no longer subscribed: its sources go.
  void drop(std::string_view stream) {
    const auto it = streams_.find(stream);
    if (it != streams_.end()) streams_.erase(it);
  }

  // Sources replaced because their stream's table was full.
  std::uint64_t replaced() const noexcept { return full_; }

 private:
  struct entry {
    std::uint64_t publisher;
    endpoint source;
    std::uint64_t heard;  // clock_ when last heard
  };
  std::map<std::string, std::vector<entry>, std::less<>> streams_;
  std::uint64_t clock_ = 0;
  std::uint64_t full_ = 0;
};

}  // namespace racket::detail
