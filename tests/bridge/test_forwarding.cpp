// SPDX-License-Identifier: MIT
#include "../../examples/bridge/forwarding.hpp"

// docs/bridge.md, "Loop prevention": what the bridge exports to NATS and imports from it.

#include <string>

#include "catch.hpp"

using namespace racket_bridge;

namespace {

origin from(std::string site, std::uint64_t publisher, std::uint64_t sequence, std::uint64_t hash,
            bool tombstone = false) {
  origin o;
  o.site = std::move(site);
  o.publisher = publisher;
  o.sequence = sequence;
  o.hash = hash;
  o.tombstone = tombstone;
  o.interval_ms = 1000;
  return o;
}

}  // namespace

TEST_CASE("bridge forwarding: a LAN publisher's messages and withdrawals are exported") {
  forwarding_rules r("a");
  r.set_own_publisher(7);
  CHECK(r.on_lan_message("s", "x.y", 1, 100) == export_verdict::forward);
  CHECK(r.on_lan_message("s", "x.y", 1, 101) == export_verdict::forward);
  CHECK(r.on_lan_removal("s", "x.y", 1, lan_removal::withdrawn) == export_verdict::forward);
  CHECK(r.on_lan_removal("s", "x.z", 1, lan_removal::expired) == export_verdict::forward);
  CHECK(r.on_lan_removal("s", "x.w", 1, lan_removal::evicted) == export_verdict::not_exported);
  CHECK(r.counters().exported == 2);
  CHECK(r.counters().exported_removals == 2);
  CHECK(r.counters().skipped_evicted == 1);
}

TEST_CASE("bridge forwarding: what the bridge itself published is never exported") {
  forwarding_rules r("a");
  r.set_own_publisher(7);
  CHECK(r.on_lan_message("s", "x", 7, 100) == export_verdict::own_publisher);
  CHECK(r.on_lan_removal("s", "x", 7, lan_removal::withdrawn) == export_verdict::own_publisher);
  CHECK(r.on_lan_removal("s", "x", 7, lan_removal::expired) == export_verdict::own_publisher);
  CHECK(r.counters().skipped_own == 3);
  CHECK(r.counters().exported == 0);
}

TEST_CASE("bridge forwarding: publishers announced as bridge are not exported while heard") {
  forwarding_rules r("a");
  r.bridge_heard(9);
  CHECK(r.on_lan_message("s", "x", 9, 100) == export_verdict::bridge_publisher);
  CHECK(r.on_lan_removal("s", "x", 9, lan_removal::withdrawn) == export_verdict::bridge_publisher);
  CHECK(r.counters().skipped_bridge == 2);
  r.bridge_gone(9);
  CHECK(r.on_lan_message("s", "x", 9, 100) == export_verdict::forward);
}

TEST_CASE("bridge forwarding: an imported value heard back before its bridge was announced is an echo") {
  forwarding_rules r("a");
  CHECK(r.on_nats_message("s", "x", from("b", 1, 1, 100)) == import_verdict::deliver);
  // A sibling bridge of this site published it on the LAN; not announced yet.
  CHECK(r.on_lan_message("s", "x", 55, 100) == export_verdict::echo);
  CHECK(r.on_lan_message("s", "other", 55, 100) == export_verdict::forward);  // per subject
  CHECK(r.on_lan_message("other", "x", 55, 100) == export_verdict::forward);  // per stream
  CHECK(r.on_lan_message("s", "x", 56, 101) == export_verdict::forward);      // a new LAN value
  CHECK(r.counters().skipped_echo == 1);
}

TEST_CASE("bridge forwarding: a NATS message of this site is never imported") {
  forwarding_rules r("a");
  CHECK(r.on_nats_message("s", "x", from("a", 1, 1, 100)) == import_verdict::own_site);
  CHECK(r.on_nats_message("s", "x", from("a", 1, 1, 100, true)) == import_verdict::own_site);
  CHECK(r.counters().skipped_own_site == 2);
  CHECK(r.counters().imported == 0);
  CHECK(r.tracked() == 0);
}

TEST_CASE("bridge forwarding: two bridges of one site exporting the same record import once") {
  forwarding_rules r("b");
  CHECK(r.on_nats_message("s", "x", from("a", 1, 5, 100)) == import_verdict::deliver);
  CHECK(r.on_nats_message("s", "x", from("a", 1, 5, 100)) == import_verdict::duplicate);
  // A resend with a new sequence and the same content is still a duplicate.
  CHECK(r.on_nats_message("s", "x", from("a", 1, 6, 100)) == import_verdict::duplicate);
  // Another publisher with the same value: a duplicate too (the content is what counts).
  CHECK(r.on_nats_message("s", "x", from("a", 2, 1, 100)) == import_verdict::duplicate);
  CHECK(r.on_nats_message("s", "x", from("a", 1, 7, 101)) == import_verdict::deliver);
  CHECK(r.counters().imported == 2);
  CHECK(r.counters().import_duplicates == 3);
}

TEST_CASE("bridge forwarding: an older sequence from the same publisher is stale") {
  forwarding_rules r("b");
  CHECK(r.on_nats_message("s", "x", from("a", 1, 10, 100)) == import_verdict::deliver);
  CHECK(r.on_nats_message("s", "x", from("a", 1, 9, 99)) == import_verdict::stale);
  CHECK(r.on_nats_message("s", "x", from("a", 2, 3, 98)) == import_verdict::deliver);  // another publisher
  CHECK(r.counters().import_stale == 1);
}

TEST_CASE("bridge forwarding: tombstones are imported once and end the value") {
  forwarding_rules r("b");
  CHECK(r.on_nats_message("s", "x", from("a", 1, 1, 100)) == import_verdict::deliver);
  CHECK(r.on_nats_message("s", "x", from("a", 1, 2, 0, true)) == import_verdict::deliver);
  CHECK(r.on_nats_message("s", "x", from("a", 1, 2, 0, true)) == import_verdict::stale);  // a sibling's copy
  CHECK(r.counters().imported_removals == 1);
  // The old value coming back late (a bucket read after the withdrawal) is stale.
  CHECK(r.on_nats_message("s", "x", from("a", 1, 1, 100)) == import_verdict::stale);
  // The same value published again afterwards is a new value.
  CHECK(r.on_nats_message("s", "x", from("a", 1, 3, 100)) == import_verdict::deliver);
  // An echo check after a tombstone does not match the withdrawn value.
  CHECK(r.on_nats_message("s", "x", from("a", 1, 4, 0, true)) == import_verdict::deliver);
  CHECK(r.on_lan_message("s", "x", 55, 100) == export_verdict::forward);
}

TEST_CASE("bridge forwarding: per-subject state is bounded") {
  forwarding_rules r("b", 2);
  CHECK(r.on_nats_message("s", "x1", from("a", 1, 1, 1)) == import_verdict::deliver);
  CHECK(r.on_nats_message("s", "x2", from("a", 1, 2, 2)) == import_verdict::deliver);
  CHECK(r.on_nats_message("s", "x3", from("a", 1, 3, 3)) == import_verdict::deliver);
  CHECK(r.tracked() == 2);
  CHECK(r.counters().untracked == 1);
  CHECK(r.on_nats_message("s", "x1", from("a", 1, 4, 4)) == import_verdict::deliver);  // known ones still update
  CHECK(r.counters().untracked == 1);
}

TEST_CASE("bridge forwarding: a value this bridge exported, come back from another site, is not imported") {
  forwarding_rules r("b");
  CHECK(r.on_lan_message("s", "x", 1, 100) == export_verdict::forward);
  // Re-exported by a bridge of site a that did not know its sibling's publisher yet.
  CHECK(r.on_nats_message("s", "x", from("a", 77, 1, 100)) == import_verdict::echo);
  CHECK(r.counters().import_echoes == 1);
  CHECK(r.counters().imported == 0);
  CHECK(r.on_nats_message("s", "x", from("a", 77, 2, 101)) == import_verdict::deliver);  // a new value
  CHECK(r.on_nats_message("s", "y", from("a", 77, 3, 100)) == import_verdict::deliver);  // per subject
  // Withdrawn here: the state goes with it.
  CHECK(r.on_lan_message("s", "z", 1, 200) == export_verdict::forward);
  CHECK(r.on_lan_removal("s", "z", 1, lan_removal::withdrawn) == export_verdict::forward);
  CHECK(r.exported_subjects() == 1);
  CHECK(r.on_nats_message("s", "z", from("a", 77, 4, 200)) == import_verdict::deliver);
}
