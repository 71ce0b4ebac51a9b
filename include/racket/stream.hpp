// SPDX-License-Identifier: MIT
#pragma once

// `stream<T, Codec>`: a named, typed channel: its name, the group and port the pool maps it
// to, its codec, and the process-wide key its copies share. Knows nothing of publishers,
// subscribers or the network.

#include "racket/codec.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/pool.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace racket {

namespace detail {
// Every stream object made gets a process-wide number; its copies share it. A number always
// stands for the one (name, endpoint) it was made with, so a publisher that saw it before
// knows the stream without comparing names.
inline std::atomic<std::uint64_t> stream_keys{0};
inline std::uint64_t next_stream_key() noexcept { return stream_keys.fetch_add(1, std::memory_order_relaxed) + 1; }
}  // namespace detail

/// A named, typed channel: its name, the group and port the pool maps it to, and the
/// codec that turns `T` into payload bytes and back.
///
/// Cheap to copy; immutable once made. Two streams may share a group and port: receivers
/// still deliver only the stream they subscribed to (the name travels in every datagram).
///
/// ```cpp
/// racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};
/// racket::stream<double> temperature{"plant.sensors", pool};
/// ```
template <class T, class Codec = default_codec<T>>
  requires codec<Codec, T>
class stream {
 public:
  using value_type = T;
  using codec_type = Codec;

  /// Maps `name` into `pool`. Throws `std::system_error` (errc::invalid_stream_name) naming it.
  stream(std::string_view name, const multicast_pool& pool)
      : name_(name),
        endpoint_(pool.endpoint_for(name)),
        announce_endpoint_(pool.announce_endpoint()),
        key_(detail::next_stream_key()) {}

  // Copies only (a move copies too): a moved-from stream must not keep the key of a name it
  // no longer holds.
  stream(const stream&) = default;
  stream& operator=(const stream&) = default;

  /// Maps `name` into `pool`; on error sets `ec` and returns a stream that must not be used.
  static stream make(std::string_view name, const multicast_pool& pool, std::error_code& ec) {
    stream s;
    s.endpoint_ = pool.endpoint_for(name, ec);
    if (!ec) {
      s.announce_endpoint_ = pool.announce_endpoint();
      s.name_ = std::string(name);
      s.key_ = detail::next_stream_key();
    }
    return s;
  }

  /// The stream's name (1..255 bytes).
  const std::string& name() const noexcept { return name_; }
  /// The group and port the stream's datagrams use.
  const racket::endpoint& endpoint() const noexcept { return endpoint_; }
  /// The announce channel of the stream's pool (`multicast_pool::announce_endpoint`), where
  /// publishers and subscribers of the stream announce it.
  const racket::endpoint& announce_endpoint() const noexcept { return announce_endpoint_; }
  /// False only for a stream `make` refused.
  bool valid() const noexcept { return !name_.empty(); }
  /// A number for this stream and its copies, unique in the process (0 for a refused stream):
  /// publishers recognise a stream they have seen by it.
  std::uint64_t key() const noexcept { return key_; }

 private:
  stream() = default;
  std::string name_;
  racket::endpoint endpoint_;
  racket::endpoint announce_endpoint_;
  std::uint64_t key_ = 0;
};

}  // namespace racket
