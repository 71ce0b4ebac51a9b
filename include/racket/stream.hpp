// SPDX-License-Identifier: MIT
#pragma once

#include "racket/codec.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/pool.hpp"

#include <string>
#include <string_view>
#include <system_error>

namespace racket {

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
  stream(std::string_view name, const multicast_pool& pool) : name_(name), endpoint_(pool.endpoint_for(name)) {}

  /// Maps `name` into `pool`; on error sets `ec` and returns a stream that must not be used.
  static stream make(std::string_view name, const multicast_pool& pool, std::error_code& ec) {
    stream s;
    s.endpoint_ = pool.endpoint_for(name, ec);
    if (!ec) s.name_ = std::string(name);
    return s;
  }

  /// The stream's name (1..255 bytes).
  const std::string& name() const noexcept { return name_; }
  /// The group and port the stream's datagrams use.
  const racket::endpoint& endpoint() const noexcept { return endpoint_; }
  /// False only for a stream `make` refused.
  bool valid() const noexcept { return !name_.empty(); }

 private:
  stream() = default;
  std::string name_;
  racket::endpoint endpoint_;
};

}  // namespace racket
