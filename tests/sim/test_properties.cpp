// SPDX-License-Identifier: MIT
// Property tests: publishers and subscribers on the simulated network under random faults,
// over many seeds. After the faults stop and a few intervals pass, every subscription holds
// exactly the latest value of every live subject its filter matches; along the way no
// subscription ever got an older value from the same publisher after a newer one, nor the same
// value twice in a row.
//
// RACKET_SIM_SEEDS=N runs N seeds (default 1000); RACKET_SIM_SEED=S runs seed S alone, with a
// trace of what the scenario did.
#include "racket/simulation/network.hpp"

#include "catch.hpp"

#include "racket/publisher.hpp"
#include "racket/subscriber.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;

const racket::multicast_pool pool{"239.255.0.0/30", "19090-19091"};  // few groups/ports: streams collide

// What one subscription believes: subject -> (value, publisher, sequence).
struct mirror {
  std::string filter;
  std::string stream;
  std::map<std::string, std::string> values;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> last_seen;  // publisher, sequence
  std::map<std::string, std::string> last_value;  // reset when the subject is removed
  std::vector<std::string> violations;
};

// The truth the publishers know: the latest live value of each (stream, subject).
struct truth_entry {
  std::string value;
  bool live = false;
};

struct scenario_result {
  std::vector<std::string> failures;
  std::uint64_t trace_hash = 0;
  std::uint64_t deliveries = 0;
};

std::uint64_t mix(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return (h ^ 0xFF) * 1099511628211ull;
}

scenario_result run_scenario(std::uint64_t seed, bool verbose) {
  scenario_result result;
  sim::network net(seed);
  auto& rng = net.rng();
  auto below = [&](std::uint64_t n) { return rng.below(n); };
  std::ostringstream log;

  const std::size_t lan = net.add_lan("lan");
  const int publishers = 2;
  const int subscribers = 3;
  std::vector<sim::node*> pub_nodes, sub_nodes;
  for (int i = 0; i < publishers; ++i) {
    auto& n = net.add_node("p" + std::to_string(i));
    net.attach(n, lan, "eth0");
    pub_nodes.push_back(&n);
  }
  for (int i = 0; i < subscribers; ++i) {
    auto& n = net.add_node("s" + std::to_string(i));
    net.attach(n, lan, "eth0");
    // Some subscribers hear everything twice (two interfaces on one LAN).
    if (below(3) == 0) net.attach(n, lan, "eth1");
    sub_nodes.push_back(&n);
  }

  std::vector<racket::stream<std::string>> streams{{"alpha", pool}, {"beta", pool}, {"gamma", pool}};
  const std::vector<std::string> tokens{"a", "b", "c"};
  auto random_subject = [&](int publisher) {
    std::string s = "p" + std::to_string(publisher);
    const auto depth = 1 + below(2);
    for (std::uint64_t i = 0; i < depth; ++i) s += "." + tokens[below(tokens.size())];
    return s;
  };
  const std::vector<std::string> filters{"*", "p0.*", "p1.*", "*.a", "p0.a", "*.*.b", "p1.*.c", "*.b.*"};

  // Faults: a random mix, switched off at `calm`.
  sim::fault_profile faults;
  faults.loss = static_cast<double>(below(25)) / 100.0;
  faults.duplicate = static_cast<double>(below(10)) / 100.0;
  faults.jitter = std::chrono::microseconds(below(5000));
  faults.reorder = static_cast<double>(below(10)) / 100.0;
  net.set_faults(faults);
  log << "faults loss=" << faults.loss << " dup=" << faults.duplicate << " reorder=" << faults.reorder << "\n";

  const auto start = net.now();
  const auto calm = start + 8s;
  const std::uint32_t max_interval_ms = 400;
  const unsigned expiry_factor = 3;

  std::map<std::pair<int, std::string>, truth_entry> truth;  // ((stream, subject)) -> latest
  std::vector<std::unique_ptr<sim_publisher>> pubs(publishers);
  std::uint64_t value_counter = 0;

  auto make_publisher = [&](int i) {
    pubs[static_cast<std::size_t>(i)] = std::make_unique<sim_publisher>(
        *pub_nodes[static_cast<std::size_t>(i)], racket::publisher_options{.seed = net.random() | 1});
  };
  for (int i = 0; i < publishers; ++i) make_publisher(i);

  std::vector<std::unique_ptr<sim_subscriber>> subs(subscribers);
  std::vector<std::vector<std::pair<std::unique_ptr<mirror>, racket::subscription>>> subscriptions(subscribers);
  auto add_subscription = [&](int i) {
    auto& sub = *subs[static_cast<std::size_t>(i)];
    const auto stream_index = below(streams.size());
    auto m = std::make_unique<mirror>();
    m->filter = filters[below(filters.size())];
    m->stream = streams[stream_index].name();
    mirror* mp = m.get();
    auto on_message = [mp, &result](const racket::message<std::string>& msg) {
      const std::string subject(msg.subject);
      ++result.deliveries;
      result.trace_hash = mix(result.trace_hash, subject + "=" + msg.value);
      if (msg.interval.count() == 0) {  // a one-shot event: the subject holds no value afterwards
        mp->values.erase(subject);
        mp->last_value.erase(subject);
        return;
      }
      auto seen = mp->last_seen.find(subject);
      if (seen != mp->last_seen.end() && seen->second.first == msg.publisher_id && msg.sequence < seen->second.second) {
        mp->violations.push_back("older value delivered for " + subject + ": seq " + std::to_string(msg.sequence) +
                                 " after " + std::to_string(seen->second.second));
      }
      auto last = mp->last_value.find(subject);
      if (last != mp->last_value.end() && last->second == msg.value) {
        mp->violations.push_back("same value delivered twice in a row for " + subject + ": " + msg.value);
      }
      mp->last_seen[subject] = {msg.publisher_id, msg.sequence};
      mp->last_value[subject] = msg.value;
      mp->values[subject] = msg.value;
    };
    auto on_removed = [mp, &result](const racket::removal& r) {
      const std::string subject(r.subject);
      result.trace_hash = mix(result.trace_hash, "-" + subject);
      mp->values.erase(subject);
      mp->last_value.erase(subject);
    };
    auto handle = sub.subscribe(streams[stream_index], m->filter, on_message, on_removed);
    log << "s" << i << " subscribes " << m->stream << " '" << m->filter << "'\n";
    subscriptions[static_cast<std::size_t>(i)].emplace_back(std::move(m), std::move(handle));
  };
  auto make_subscriber = [&](int i) {
    subs[static_cast<std::size_t>(i)] = std::make_unique<sim_subscriber>(
        *sub_nodes[static_cast<std::size_t>(i)], racket::subscriber_options{.expiry_factor = expiry_factor});
    const auto n = 1 + below(3);
    for (std::uint64_t k = 0; k < n; ++k) add_subscription(i);
  };
  // The last subscriber joins late.
  for (int i = 0; i + 1 < subscribers; ++i) make_subscriber(i);
  net.post_at(start + std::chrono::milliseconds(500 + below(4000)), [&, i = subscribers - 1] {
    log << "late subscriber joins\n";
    make_subscriber(i);
  });

  // Random publishes, withdrawals, events, subscription churn, a partition and a crash.
  const int actions = 60 + static_cast<int>(below(60));
  for (int k = 0; k < actions; ++k) {
    const auto at = start + std::chrono::milliseconds(below(7500));
    const int p = static_cast<int>(below(publishers));
    const auto stream_index = static_cast<int>(below(streams.size()));
    const std::string subject = random_subject(p);
    const auto kind = below(10);
    net.post_at(at, [&, p, stream_index, subject, kind] {
      auto& pub = pubs[static_cast<std::size_t>(p)];
      if (!pub) return;
      const auto& s = streams[static_cast<std::size_t>(stream_index)];
      auto& t = truth[{stream_index, subject}];
      if (kind == 0) {
        pub->withdraw(s, subject);
        t.live = false;
        log << "p" << p << " withdraws " << s.name() << " " << subject << "\n";
      } else if (kind == 1) {
        const std::string v = "e" + std::to_string(++value_counter);
        pub->publish(s, subject, v, 0ms);
        t.live = false;
        log << "p" << p << " event " << s.name() << " " << subject << "=" << v << "\n";
      } else {
        const std::string v = "v" + std::to_string(++value_counter);
        const auto interval = std::chrono::milliseconds(100 + below(max_interval_ms - 100 + 1));
        pub->publish(s, subject, v, interval);
        t.value = v;
        t.live = true;
        log << "p" << p << " publishes " << s.name() << " " << subject << "=" << v << " every " << interval.count()
            << "ms\n";
      }
    });
  }
  if (below(2) == 0) {
    const auto from = start + std::chrono::milliseconds(below(5000));
    const int side = static_cast<int>(below(subscribers));
    net.post_at(from, [&, side] {
      log << "partition s" << side << "\n";
      net.partition({sub_nodes[static_cast<std::size_t>(side)]}, {pub_nodes[0], pub_nodes[1]});
    });
    net.post_at(from + std::chrono::milliseconds(below(2000)), [&] {
      log << "heal\n";
      net.heal();
    });
  }
  if (below(3) == 0) {
    const int p = static_cast<int>(below(publishers));
    const auto at = start + std::chrono::milliseconds(1000 + below(5000));
    net.post_at(at, [&, p] {
      log << "p" << p << " crashes\n";
      net.crash(*pub_nodes[static_cast<std::size_t>(p)]);
      pubs[static_cast<std::size_t>(p)].reset();
      for (auto& [key, t] : truth) {
        if (key.second.rfind("p" + std::to_string(p) + ".", 0) == 0) t.live = false;  // dead publisher
      }
    });
    if (below(2) == 0) {
      net.post_at(at + std::chrono::milliseconds(200 + below(1000)), [&, p] {
        log << "p" << p << " restarts\n";
        net.restart(*pub_nodes[static_cast<std::size_t>(p)]);
        make_publisher(p);
      });
    }
  }
  net.post_at(start + std::chrono::milliseconds(below(7000)), [&] {
    const int i = static_cast<int>(below(subscribers - 1));
    if (!subscriptions[static_cast<std::size_t>(i)].empty()) {
      log << "s" << i << " drops its first subscription\n";
      subscriptions[static_cast<std::size_t>(i)].erase(subscriptions[static_cast<std::size_t>(i)].begin());
    }
    add_subscription(i);
  });
  net.post_at(calm, [&] {
    log << "faults stop\n";
    net.set_faults(sim::fault_profile{});
    net.heal();
  });

  // Calm, then long enough for every lost update to be resent and every dead subject to expire.
  net.run_for((calm - start) + std::chrono::milliseconds(max_interval_ms * (expiry_factor + 2)) + 500ms);

  // Every subscription holds exactly the live subjects its filter matches, at their latest value.
  for (int i = 0; i < subscribers; ++i) {
    for (const auto& [m, handle] : subscriptions[static_cast<std::size_t>(i)]) {
      for (const auto& v : m->violations) result.failures.push_back("s" + std::to_string(i) + ": " + v);
      const racket::subject_filter f{m->filter};
      std::map<std::string, std::string> expected;
      for (std::size_t s = 0; s < streams.size(); ++s) {
        if (streams[s].name() != m->stream) continue;
        for (const auto& [key, t] : truth) {
          if (key.first == static_cast<int>(s) && t.live && f.matches(key.second)) expected[key.second] = t.value;
        }
      }
      if (expected != m->values) {
        std::ostringstream msg;
        msg << "s" << i << " " << m->stream << " '" << m->filter << "': holds {";
        for (const auto& [k, v] : m->values) msg << k << "=" << v << " ";
        msg << "} expected {";
        for (const auto& [k, v] : expected) msg << k << "=" << v << " ";
        msg << "}";
        result.failures.push_back(msg.str());
      }
    }
  }
  if (verbose || !result.failures.empty()) {
    if (verbose) std::cout << log.str();
  }
  return result;
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE("every subscription converges to the latest live values under random faults", "[sim][property]") {
  if (const char* one = std::getenv("RACKET_SIM_SEED")) {
    const std::uint64_t seed = std::strtoull(one, nullptr, 10);
    const auto r = run_scenario(seed, true);
    for (const auto& f : r.failures) std::cout << "seed " << seed << ": " << f << "\n";
    CHECK(r.failures.empty());
    return;
  }
  const std::uint64_t seeds = env_number("RACKET_SIM_SEEDS", 1000);
  const auto wall = std::chrono::steady_clock::now();
  std::uint64_t failed = 0, deliveries = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const auto r = run_scenario(seed, false);
    deliveries += r.deliveries;
    if (!r.failures.empty()) {
      ++failed;
      if (failed <= 5) {
        std::cout << "FAILED seed " << seed << " (re-run alone with RACKET_SIM_SEED=" << seed << "):\n";
        for (std::size_t k = 0; k < r.failures.size() && k < 5; ++k) std::cout << "  " << r.failures[k] << "\n";
      }
    }
  }
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  std::cout << "simulation: " << seeds << " seeds, " << deliveries << " deliveries, " << failed << " failed, " << took
            << " s\n";
  CHECK(failed == 0);
  CHECK(deliveries > seeds);  // the scenarios really deliver
}

TEST_CASE("the same seed gives the same run, bit for bit", "[sim][property]") {
  for (std::uint64_t seed : {7u, 42u, 1234u}) {
    const auto a = run_scenario(seed, false);
    const auto b = run_scenario(seed, false);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.deliveries == b.deliveries);
    CHECK(a.deliveries > 0);
  }
  CHECK(run_scenario(7, false).trace_hash != run_scenario(8, false).trace_hash);
}
