// SPDX-License-Identifier: MIT
#pragma once

// The publisher's streams, by name: made on first publish, kept for the publisher's life
// (never removed, so a stream found stays valid), with the last one asked for at hand, since
// publishing threads mostly stay on one stream. Knows nothing of locks (the caller locks),
// records or the transport beyond the `open` it is handed.

#include "racket/detail/config.hpp"
#include "racket/detail/hash.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace racket::detail {

// A stream as the application's `stream` object names it, for one publish: its key (0:
// none), name, endpoint and announce channel. Views into that object, passed as one.
struct stream_ref {
  std::uint64_t key;
  const std::string& name;
  const endpoint& ep;
  const endpoint& announce_ep;
};

// `Stream` has `name` (std::string), `ep` (endpoint) and `ordinal` (std::uint32_t, set here).
template <class Stream>
class stream_registry {
 public:
  // The stream `name` at `ep`: the last one asked for when `key` (the stream object's key;
  // 0: none) matches its key, or, without a key, its name and endpoint; else looked up by
  // name; else made, once `open(family, ec)` (the transport's family) succeeded. Errors:
  // `family_mismatch` when `name` is known at another endpoint; `open`'s.
  // `made(Stream&)` is called on a stream just made (before it is found by anyone).
  template <class Open, class Made = void (*)(Stream&)>
  // The check against the last stream is inline (every publish makes it); the rest is out of
  // line, so a caller's frame does not carry the lookup and the making.
  Stream* find_or_add(std::uint64_t key, const std::string& name, const endpoint& ep, std::error_code& ec,
                      Open&& open, Made&& made = [](Stream&) {}) {
    // The stream object's key (or a byte compare) instead of a hash lookup.
    if (last_ != nullptr && (key != 0 ? key == last_key_ : last_->name == name && last_->ep == ep)) [[likely]] {
      return last_;
    }
    return look_up_or_add(key, name, ep, ec, open, made);
  }

  // The stream `name`, or nullptr.
  Stream* find(std::string_view name) const {
    const auto it = streams_.find(name);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  template <class F>
  void for_each(F&& f) {
    for (auto& [name, s] : streams_) f(*s);
  }

  std::size_t size() const noexcept { return streams_.size(); }

 private:
  // find_or_add past the last stream: by name, else made.
  template <class Open, class Made>
  RACKET_NOINLINE Stream* look_up_or_add(std::uint64_t key, const std::string& name, const endpoint& ep,
                                         std::error_code& ec, Open& open, Made& made) {
    if (auto it = streams_.find(std::string_view(name)); it != streams_.end()) {
      if (it->second->ep != ep) {
        ec = make_error_code(errc::family_mismatch);
        return nullptr;
      }
      return remember(it->second.get(), key);
    }
    open(ep.group.is_v6() ? address_family::v6 : address_family::v4, ec);
    if (ec) return nullptr;
    auto s = std::make_unique<Stream>();
    s->ordinal = static_cast<std::uint32_t>(streams_.size());
    s->name = name;
    s->ep = ep;
    made(*s);
    Stream* raw = s.get();
    streams_.emplace(std::string_view(raw->name), std::move(s));
    return remember(raw, key);
  }

  struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(xxh3(s)); }
  };

  Stream* remember(Stream* s, std::uint64_t key) noexcept {
    last_ = s;
    last_key_ = key;
    return s;
  }

  std::unordered_map<std::string_view, std::unique_ptr<Stream>, sv_hash, std::equal_to<>> streams_;
  Stream* last_ = nullptr;     // the stream last asked for
  std::uint64_t last_key_ = 0;  // its stream object's key (0: none)
};

}  // namespace racket::detail
