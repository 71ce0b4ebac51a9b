// SPDX-License-Identifier: MIT
#pragma once

// The bridge's rules of what to forward (docs/bridge.md, "Loop prevention"): which LAN messages
// and removals go out to NATS, and which NATS messages come in to the LAN, with the counters of
// every verdict. A plain class with no I/O and no clock, tested alone: it must NOT know NATS's
// client, sockets, threads, or Racket's publisher and subscriber (it is given ids and hashes).

#include "headers.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace racket_bridge {

/// What to do with a message or removal heard on the LAN.
enum class export_verdict {
  forward,           ///< publish it to NATS (and into the bucket)
  own_publisher,     ///< this bridge published it (an import heard back): skip
  bridge_publisher,  ///< a publisher announced as program `bridge` published it: skip
  echo,              ///< the value this bridge (or a sibling) imported for the subject: skip
  not_exported,      ///< a removal that is not the origin's decision (evicted): skip
};

/// What to do with a message from NATS.
enum class import_verdict {
  deliver,    ///< publish it on the LAN (or withdraw the subject)
  own_site,   ///< exported by a bridge of this site: skip
  duplicate,  ///< the same content as the last one imported for the subject: skip
  echo,       ///< the value this bridge exported for the subject, come back: skip
  stale,      ///< older than the last one imported from the same publisher: skip
};

/// How a LAN subject went away (mirrors `racket::removal_reason`, which this file must not know).
enum class lan_removal { withdrawn, expired, evicted };

/// Counters of every verdict (plain struct, copied out).
struct forwarding_counters {
  std::uint64_t exported = 0;               ///< LAN messages forwarded to NATS
  std::uint64_t exported_removals = 0;      ///< LAN withdrawals and expiries forwarded as tombstones
  std::uint64_t skipped_own = 0;            ///< LAN messages and removals of this bridge's publisher
  std::uint64_t skipped_bridge = 0;         ///< LAN messages and removals of other bridges' publishers
  std::uint64_t skipped_echo = 0;           ///< LAN messages equal to the imported value
  std::uint64_t skipped_evicted = 0;        ///< LAN removals by eviction
  std::uint64_t imported = 0;               ///< NATS messages delivered to the LAN
  std::uint64_t imported_removals = 0;      ///< NATS tombstones delivered to the LAN
  std::uint64_t skipped_own_site = 0;       ///< NATS messages of this site
  std::uint64_t import_duplicates = 0;      ///< NATS messages equal to the last imported
  std::uint64_t import_stale = 0;           ///< NATS messages older than the last imported
  std::uint64_t import_echoes = 0;          ///< NATS messages equal to the value this bridge exported
  std::uint64_t untracked = 0;              ///< subjects not tracked: max_subjects reached
};

/// Calls `f(std::string_view name, std::uint64_t value)` for every counter, in order.
template <class F>
void for_each_counter(const forwarding_counters& c, F&& f) {
  static_assert(sizeof(forwarding_counters) == 13 * sizeof(std::uint64_t), "list every member");
  f(std::string_view("exported"), c.exported);
  f(std::string_view("exported_removals"), c.exported_removals);
  f(std::string_view("skipped_own"), c.skipped_own);
  f(std::string_view("skipped_bridge"), c.skipped_bridge);
  f(std::string_view("skipped_echo"), c.skipped_echo);
  f(std::string_view("skipped_evicted"), c.skipped_evicted);
  f(std::string_view("imported"), c.imported);
  f(std::string_view("imported_removals"), c.imported_removals);
  f(std::string_view("skipped_own_site"), c.skipped_own_site);
  f(std::string_view("import_duplicates"), c.import_duplicates);
  f(std::string_view("import_stale"), c.import_stale);
  f(std::string_view("import_echoes"), c.import_echoes);
  f(std::string_view("untracked"), c.untracked);
}

/// Decides, message by message, what the bridge forwards each way.
///
/// Exports skip this bridge's own LAN publisher, publishers announced as program `bridge`,
/// and (until such a publisher has been heard announced) a value whose content hash is the
/// one last imported for its subject. Imports skip this site's messages, a duplicate of the
/// last imported value, an older sequence from the same publisher, and the value this bridge
/// last exported for the subject (a sibling bridge of another site re-exported it before it
/// knew the importing publisher for a bridge's: the echo stops here). Per-subject state is
/// bounded by `max_subjects` (past it, subjects are not tracked and only counted).
class forwarding_rules {
 public:
  explicit forwarding_rules(std::string site, std::size_t max_subjects = 1'000'000)
      : site_(std::move(site)), max_subjects_(max_subjects) {}

  const std::string& site() const noexcept { return site_; }

  /// This bridge's own LAN publisher (what it imports is published by it).
  void set_own_publisher(std::uint64_t id) noexcept { own_publisher_ = id; }

  /// A publisher announced as program `bridge` was heard (or expired from the directory).
  void bridge_heard(std::uint64_t id) {
    if (bridges_.size() < max_subjects_) bridges_.insert(id);
  }
  void bridge_gone(std::uint64_t id) { bridges_.erase(id); }

  /// A message delivered on the LAN.
  export_verdict on_lan_message(std::string_view stream, std::string_view subject, std::uint64_t publisher,
                                std::uint64_t hash) {
    if (const auto v = skip_publisher(publisher)) return *v;
    const auto it = imported_.find(key(stream, subject));
    if (it != imported_.end() && it->second.hash == hash) {
      ++counters_.skipped_echo;
      return export_verdict::echo;
    }
    remember(exported_, key(stream, subject), hash);
    ++counters_.exported;
    return export_verdict::forward;
  }

  /// A subject that went away on the LAN. Withdrawals and expiries (the origin stopped) go
  /// out as tombstones; an eviction is this bridge's own cap, not the origin's decision.
  export_verdict on_lan_removal(std::string_view stream, std::string_view subject, std::uint64_t publisher,
                                lan_removal why) {
    if (const auto v = skip_publisher(publisher)) return *v;
    if (why == lan_removal::evicted) {
      ++counters_.skipped_evicted;
      return export_verdict::not_exported;
    }
    imported_.erase(key(stream, subject));
    exported_.erase(key(stream, subject));
    ++counters_.exported_removals;
    return export_verdict::forward;
  }

  /// A message from NATS, or a value read from the bucket, with its origin (`o.hash`: the
  /// content hash the bridge computed). A value already imported is a duplicate.
  import_verdict on_nats_message(std::string_view stream, std::string_view subject, const origin& o) {
    if (o.site == site_) {
      ++counters_.skipped_own_site;
      return import_verdict::own_site;
    }
    std::string k = key(stream, subject);
    if (!o.tombstone) {
      const auto e = exported_.find(k);
      if (e != exported_.end() && e->second == o.hash) {
        ++counters_.import_echoes;
        return import_verdict::echo;
      }
    }
    const auto it = imported_.find(k);
    if (it != imported_.end()) {
      const last& l = it->second;
      if (l.publisher == o.publisher && o.sequence <= l.sequence) {
        if (o.sequence == l.sequence && !o.tombstone) {
          ++counters_.import_duplicates;  // the same record, from a second bridge of its site
          return import_verdict::duplicate;
        }
        ++counters_.import_stale;
        return import_verdict::stale;
      }
      if (!o.tombstone && l.hash == o.hash) {
        ++counters_.import_duplicates;
        return import_verdict::duplicate;
      }
    }
    if (o.tombstone) {
      // Kept (with no value) so that a second bridge's copy of the tombstone is stale.
      remember(imported_, std::move(k), last{o.publisher, o.sequence, 0});
      ++counters_.imported_removals;
    } else {
      remember(imported_, std::move(k), last{o.publisher, o.sequence, o.hash});
      ++counters_.imported;
    }
    return import_verdict::deliver;
  }

  /// Subjects with import state held.
  std::size_t tracked() const noexcept { return imported_.size(); }
  /// Subjects with export state held.
  std::size_t exported_subjects() const noexcept { return exported_.size(); }

  const forwarding_counters& counters() const noexcept { return counters_; }

 private:
  struct last {
    std::uint64_t publisher = 0;
    std::uint64_t sequence = 0;
    std::uint64_t hash = 0;  // 0 after a tombstone
  };

  static std::string key(std::string_view stream, std::string_view subject) {
    std::string k;
    k.reserve(stream.size() + 1 + subject.size());
    k.append(stream);
    k += '\0';  // neither a stream nor a subject holds NUL
    k.append(subject);
    return k;
  }

  std::optional<export_verdict> skip_publisher(std::uint64_t publisher) {
    if (own_publisher_ && publisher == *own_publisher_) {
      ++counters_.skipped_own;
      return export_verdict::own_publisher;
    }
    if (bridges_.count(publisher) != 0) {
      ++counters_.skipped_bridge;
      return export_verdict::bridge_publisher;
    }
    return std::nullopt;
  }

  template <class Map, class Value>
  void remember(Map& map, std::string k, Value v) {
    const auto it = map.find(k);
    if (it != map.end()) {
      it->second = v;
    } else if (map.size() < max_subjects_) {
      map.emplace(std::move(k), v);
    } else {
      ++counters_.untracked;
    }
  }

  std::string site_;
  std::size_t max_subjects_;
  std::optional<std::uint64_t> own_publisher_;
  std::unordered_set<std::uint64_t> bridges_;
  std::unordered_map<std::string, last> imported_;
  std::unordered_map<std::string, std::uint64_t> exported_;  // the hash last exported per subject
  forwarding_counters counters_;
};

}  // namespace racket_bridge
