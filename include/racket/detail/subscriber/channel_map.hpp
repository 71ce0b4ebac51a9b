// SPDX-License-Identifier: MIT
#pragma once

// Where a subscriber's subscriptions live: its channels by endpoint, the streams on each, and
// every subscription handle with the channel and stream it is registered in. Plain
// bookkeeping, used under the subscriber's lock; knows nothing of receivers being opened or
// closed (the subscriber does that), of datagrams or of handlers.

#include "racket/detail/subscriber/channel.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/endpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace racket::detail {

template <class TimePoint>
class channel_map {
 public:
  using stream_type = stream_state<TimePoint>;
  using channel_type = channel<TimePoint>;
  using entry_ptr = std::shared_ptr<subscription_entry>;

  struct handle_info {
    channel_type* ch;
    stream_type* stream;
    std::uint64_t index_id;
    entry_ptr entry;
  };

  // The channel of `ep`, made (closed) if there is none.
  channel_type& find_or_add(const endpoint& ep) {
    auto it = channels_.find(ep);
    if (it != channels_.end()) return *it->second;
    auto c = std::make_unique<channel_type>();
    c->ep = ep;
    channel_type& ref = *c;
    channels_.emplace(ep, std::move(c));
    return ref;
  }

  const channel_type* find(const endpoint& ep) const {
    auto it = channels_.find(ep);
    return it == channels_.end() ? nullptr : it->second.get();
  }

  stream_type* find_stream(const endpoint& ep, std::string_view name) const {
    auto it = channels_.find(ep);
    return it == channels_.end() ? nullptr : it->second->find(name);
  }

  // The channel stream `s` is on.
  // The first stream named `name` on any channel (the reassembler keys by name alone).
  stream_type* find_stream_named(std::string_view name) const {
    for (const auto& [ep, ch] : channels_)
      if (stream_type* s = ch->find(name)) return s;
    return nullptr;
  }

  // The open channel that carries stream `name` (a datagram heard by unicast names its
  // stream, not its group); null when none does.
  channel_type* open_channel_named(std::string_view name) const {
    for (const auto& [ep, ch] : channels_)
      if (ch->open && ch->find(name) != nullptr) return ch.get();
    return nullptr;
  }

  const channel_type* channel_of(const stream_type& s) const {
    for (const auto& [ep, ch] : channels_) {
      if (ch->find(s.name) == &s) return ch.get();
    }
    return nullptr;
  }

  // Registers `entry` on stream `s` of `ch` (its filter in the stream's index and filters)
  // and returns its handle, unique on this subscriber (index ids are only unique per index).
  std::uint64_t add(channel_type& ch, stream_type& s, const entry_ptr& entry) {
    entry->id = s.index.insert(entry->filter, entry);
    const std::uint64_t handle = ++next_handle_;
    handles_.emplace(handle, handle_info{&ch, &s, entry->id, entry});
    s.filters.emplace_back(handle, std::string(entry->filter.str()));
    ++ch.subscriptions;
    return handle;
  }

  // Forgets `handle` (nothing if it is unknown); `unlink` then takes it out of its stream.
  std::optional<handle_info> take(std::uint64_t handle) {
    auto it = handles_.find(handle);
    if (it == handles_.end()) return std::nullopt;
    handle_info info = std::move(it->second);
    handles_.erase(it);
    return info;
  }

  // Takes the subscription `handle` out of its stream's index and filters; true when nobody
  // listens to the stream any more (the caller clears its state, then `erase_stream`).
  bool unlink(std::uint64_t handle, const handle_info& info) {
    info.stream->index.erase(info.index_id);
    std::erase_if(info.stream->filters, [&](const auto& f) { return f.first == handle; });
    return info.stream->index.empty();
  }

  // Destroys stream `s` of `ch`: its datagrams are foreign from now on.
  void erase_stream(channel_type& ch, stream_type& s) {
    if (ch.last_stream == &s) ch.last_stream = nullptr;
    ++streams_dropped_;
    const std::string name = s.name;
    ch.streams.erase(name);
  }

  // Streams destroyed so far: a stream pointer kept across a call that may destroy one is
  // valid while this has not moved.
  std::uint64_t streams_dropped() const noexcept { return streams_dropped_; }

  std::vector<std::uint64_t> handles() const {
    std::vector<std::uint64_t> out;
    for (const auto& [h, info] : handles_) out.push_back(h);
    return out;
  }

 private:
  std::unordered_map<endpoint, std::unique_ptr<channel_type>, endpoint_hash> channels_;
  std::unordered_map<std::uint64_t, handle_info> handles_;
  std::uint64_t next_handle_ = 0;
  std::uint64_t streams_dropped_ = 0;
};

}  // namespace racket::detail
