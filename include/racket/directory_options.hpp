// SPDX-License-Identifier: MIT
#pragma once

// What an application gives a directory (`directory_options`) and reads back from it: one
// entry of what it has heard (`directory_entry`) and its counters (`directory_stats`). Plain
// structs; they know nothing of how a directory works.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace racket {

/// Options of a directory, filled with designated initialisers:
/// `racket::directory_options{.interfaces = {"lo"}, .expiry_factor = 2}`.
struct directory_options {
  /// Interfaces to join the announce channel on; empty: every interface that is up and can
  /// carry multicast.
  std::vector<std::string> interfaces{};
  /// SO_RCVBUF requested for the announce channel's socket.
  int receive_buffer_size = 1 << 20;
  /// How often the interface selection is re-run; 0 disables.
  std::chrono::milliseconds rescan_interval{5000};
  /// An entry not heard for this many of its sender's announce periods (the period travels in
  /// every announcement) disappears.
  unsigned expiry_factor = 3;
  /// Most entries (one per stream and publisher or subscriber) held; an announcement of a new
  /// one past it is refused and counted (`directory_stats::refused`) until others expire.
  std::size_t max_entries = 4096;
};

/// Who announced an entry.
enum class participant_role : std::uint8_t { publisher = 1, subscriber = 2 };

/// One stream as one publisher or one subscriber announced it (a plain value, copied out).
struct directory_entry {
  participant_role role = participant_role::publisher;
  std::string stream;
  /// The publisher's id (`basic_publisher::id`), or the subscriber's requester id.
  std::uint64_t id = 0;
  std::string host;
  std::uint32_t pid = 0;
  std::string program;
  /// Publishers: subjects whose value the publisher keeps and resends on the stream.
  std::uint32_t subjects = 0;
  /// Publishers: messages per second on the stream over the announce period before the last
  /// announcement.
  double rate = 0;
  /// Subscribers: the filters of its subscriptions on the stream (at most 16).
  std::vector<std::string> filters;
  /// The sender's announce period; the entry expires `expiry_factor` periods after it was last heard.
  std::chrono::milliseconds period{0};
  /// Time since the entry was last heard, when the snapshot was taken or the event happened.
  std::chrono::nanoseconds age{0};
  /// Announcements of the entry heard so far.
  std::uint64_t announcements = 0;
};

/// Counters of a directory (plain struct, copied out).
struct directory_stats {
  std::uint64_t datagrams = 0;     ///< datagrams received on the announce channel
  std::uint64_t announcements = 0; ///< of them, valid announcements
  std::uint64_t malformed = 0;     ///< dropped: not a valid announcement (data of a stream sharing the channel included)
  std::uint64_t refused = 0;       ///< new entries refused because `max_entries` were held
  std::uint64_t appeared = 0;      ///< entries that appeared
  std::uint64_t disappeared = 0;   ///< entries that expired
  std::uint64_t entries = 0;       ///< entries held now (a gauge)
};

/// Calls `f(std::string_view name, std::uint64_t value)` for every counter of `s`, in the
/// order of the struct, named as its members.
template <class F>
constexpr void for_each_counter(const directory_stats& s, F&& f) {
  static_assert(sizeof(directory_stats) == 7 * sizeof(std::uint64_t),
                "for_each_counter(directory_stats) must list every member");
  f(std::string_view("datagrams"), s.datagrams);
  f(std::string_view("announcements"), s.announcements);
  f(std::string_view("malformed"), s.malformed);
  f(std::string_view("refused"), s.refused);
  f(std::string_view("appeared"), s.appeared);
  f(std::string_view("disappeared"), s.disappeared);
  f(std::string_view("entries"), s.entries);
}

}  // namespace racket
