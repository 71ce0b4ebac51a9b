// Racket: broker-less publish/subscribe over IP multicast.
// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// An in-process simulated multicast network with a virtual clock, for deterministic tests.
///
/// `basic_publisher<sim::transport, sim::clock>` and `basic_subscriber<sim::transport, sim::clock>`
/// run the same protocol code as over real UDP, but every datagram travels through a
/// `sim::network` that injects loss, duplication, delay, jitter, reordering, partitions and
/// crashes, all decided by one seeded PRNG. Nothing sleeps and nothing touches a socket:
/// an hour of virtual time with thousands of datagrams runs in well under a second.
///
/// Determinism: a network built with the same seed, driven by the same scenario, produces the
/// same run bit for bit (same deliveries, same virtual times, same trace), on every platform
/// and standard library: the PRNG is xoshiro256** seeded through splitmix64 and no
/// `<random>` distribution is used; events at equal virtual times run in the order they were
/// scheduled; posted handlers run in FIFO order.
///
/// Thread safety: none. A network, its nodes, timers and transports must be used from one
/// thread, the one that calls `run_*` (handlers run inside `run_*`). The only thing another
/// thread may do is `asio::post` to `network::context()`; such work runs at the next `run_*`.
/// Construct and destroy a network on the same thread (`sim::clock::now()` is per thread).
///
/// Lifetime: destroy every transport, timer, publisher and subscriber before the network
/// they were made on.
///
/// ```cpp
/// racket::sim::network net{/*seed=*/42};
/// const auto lan = net.add_lan("lan0");
/// auto& a = net.add_node("a");
/// auto& b = net.add_node("b");
/// net.attach(a, lan, "eth0");
/// net.attach(b, lan, "eth0");
/// net.set_faults({.loss = 0.05, .jitter = std::chrono::microseconds{200}});
///
/// racket::sim::transport tb{b, {}};
/// tb.open(racket::address_family::v4);
/// const racket::endpoint ep{asio::ip::make_address("239.255.0.1"), 19090};
/// int received = 0;
/// tb.open_receiver(ep, [&](std::span<const std::byte>, const racket::receive_info&) { ++received; });
///
/// racket::sim::transport ta{a, {}};
/// ta.open(racket::address_family::v4);
/// const std::byte hello[] = {std::byte{1}, std::byte{2}};
/// ta.send(ep, hello);
/// net.run_for(std::chrono::milliseconds{1});   // virtual time: returns at once
/// ```

#include "racket/detail/hash.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/simulation/clock.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::sim {

class network;
class node;
class timer;
class transport;

// ---------------------------------------------------------------------------------------------
// Randomness

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64: the network's PRNG.
///
/// Satisfies `std::uniform_random_bit_generator`, but use its own `below()` and `unit()`
/// rather than `<random>` distributions when the result must be the same on every standard
/// library (the distributions' algorithms are unspecified and differ between implementations).
class random_engine {
 public:
  using result_type = std::uint64_t;

  /// Seeds the four state words with four successive splitmix64 outputs of `seed`.
  explicit random_engine(std::uint64_t seed) noexcept {
    for (auto& word : state_) word = splitmix64(seed);
  }

  /// Uses `state` as the raw generator state (must not be all zero).
  explicit random_engine(const std::array<std::uint64_t, 4>& state) noexcept : state_(state) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  /// The next 64 random bits.
  result_type operator()() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in `[0, bound)`, without bias (rejection sampling); 0 when `bound` is 0.
  std::uint64_t below(std::uint64_t bound) noexcept {
    if (bound == 0) return 0;
    const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const std::uint64_t r = (*this)();
      if (r >= threshold) return r % bound;
    }
  }

  /// Uniform in `[0, 1)` with 53 random bits.
  double unit() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// One splitmix64 step: advances `x` and returns the mixed output.
  static constexpr std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  std::array<std::uint64_t, 4> state_{};
};

// ---------------------------------------------------------------------------------------------
// Configuration

/// What happens to datagrams on their way to a receiving host. Every delivery of a datagram
/// to one interface of one host is decided independently, with the network's PRNG, at send time:
///
/// 1. with probability `loss` it is dropped;
/// 2. otherwise with probability `duplicate` it arrives twice (each copy on its own schedule);
/// 3. each copy arrives after `delay` plus a uniform draw in `[0, jitter]` (any `jitter`
///    larger than the gap between two sends reorders them naturally);
/// 4. with probability `reorder` a copy is held back a further `reorder_delay`.
///
/// Probabilities must lie in `[0, 1]` and durations must not be negative
/// (`std::invalid_argument` otherwise).
struct fault_profile {
  double loss = 0;
  double duplicate = 0;
  std::chrono::nanoseconds delay{50'000};
  std::chrono::nanoseconds jitter{0};
  double reorder = 0;
  std::chrono::nanoseconds reorder_delay{1'000'000};

  friend bool operator==(const fault_profile&, const fault_profile&) = default;
};

/// One network interface of a node: its name (unique within the node) and the LAN it is
/// attached to (the index `network::add_lan` returned).
struct interface_info {
  std::string name;
  std::size_t lan = 0;
};

namespace detail {

// A sim::transport's state; heap-allocated so that the transport can move while the
// node's receiver table points at it.
struct transport_state {
  node* host = nullptr;
  transport_options options;
  std::uint64_t incarnation = 0;
  bool open_v4 = false;
  bool open_v6 = false;
  std::vector<std::size_t> selection;  // indices into host->interfaces()
  std::vector<receiver_id> receivers;
  transport_stats stats;
};

struct receiver_entry {
  endpoint group;
  std::vector<std::size_t> interfaces;  // the owning transport's selection
  std::shared_ptr<datagram_handler> handler;
  transport_state* owner = nullptr;
};

// A pending async_wait, type-erased; the handler may be move-only.
struct wait_op {
  virtual ~wait_op() = default;
  // Posts the completion; it runs only if `owner` (when set) is still the same incarnation.
  virtual void complete(std::error_code ec, asio::io_context& ctx, const node* owner,
                        std::uint64_t incarnation) = 0;
};

struct timer_state {
  network* net = nullptr;
  const node* owner = nullptr;  // null: a network-wide timer, immune to crashes
  std::uint64_t incarnation = 0;
  clock::time_point expiry{};
  std::uint64_t next_wait = 0;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<wait_op>>> waits;
};

inline clock::time_point saturating_add(clock::time_point t, clock::duration d) noexcept {
  const auto max = clock::time_point::max();
  if (d.count() > 0 && t > max - d) return max;
  return t + d;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// node

/// A simulated host: a name, interfaces attached to LANs, and the receivers its transports
/// opened. Made by `network::add_node`, owned by the network; the reference stays valid
/// for the network's lifetime.
///
/// A node can crash and restart (`network::crash`, `network::restart`). Each of the two bumps
/// its `incarnation()`; transports and timers belong to the incarnation they were made in,
/// so objects from before a crash stay dead after the restart, like the process that owned
/// them. The application makes new publishers and subscribers after `restart`.
class node {
 public:
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The name given to `network::add_node` (unique within the network).
  const std::string& name() const noexcept { return name_; }
  /// Position in creation order, from 0.
  std::size_t id() const noexcept { return id_; }
  /// True between `network::crash` and `network::restart`.
  bool crashed() const noexcept { return crashed_; }
  /// Bumped by every crash and every restart.
  std::uint64_t incarnation() const noexcept { return incarnation_; }
  /// The network the node belongs to.
  network& net() noexcept { return *net_; }
  const network& net() const noexcept { return *net_; }
  /// The node's interfaces, in attach order.
  const std::vector<interface_info>& interfaces() const noexcept { return interfaces_; }
  /// Executor of the network's `io_context` (every node shares it).
  asio::io_context::executor_type get_executor() const noexcept;

 private:
  friend class network;
  friend class transport;

  node(network& net, std::size_t id, std::string name) : net_(&net), id_(id), name_(std::move(name)) {}

  bool alive(std::uint64_t incarnation) const noexcept {
    return !crashed_ && incarnation == incarnation_;
  }

  bool listens(const endpoint& group, std::size_t interface) const noexcept {
    for (const auto& [id, r] : receivers_) {
      if (r.group == group && std::find(r.interfaces.begin(), r.interfaces.end(), interface) != r.interfaces.end()) {
        return true;
      }
    }
    return false;
  }

  network* net_;
  std::size_t id_;
  std::string name_;
  std::vector<interface_info> interfaces_;
  bool crashed_ = false;
  std::uint64_t incarnation_ = 0;
  std::map<receiver_id, detail::receiver_entry> receivers_;  // ordered: deterministic fan-out
  std::optional<fault_profile> receive_faults_;
};

// ---------------------------------------------------------------------------------------------
// network

/// The simulated network: LANs (broadcast domains), nodes attached to them, fault injection,
/// a virtual clock and the event loop that drives every handler.
///
/// Events (datagram arrivals, timer expiries, `post_at` calls) wait in a queue ordered by
/// (virtual time, order of scheduling). `run_for` / `run_until` / `run_until_idle` alternate
/// between running every ready handler of `context()` (`io_context::poll`) and taking the
/// next event, moving virtual time to it. They never sleep. Do not use real-time Asio timers
/// (`steady_timer`) on `context()`: use `sim::timer`.
///
/// Multicast model: a datagram sent on an interface goes onto that interface's LAN and
/// reaches every interface attached to that LAN on which some receiver of the same exact
/// (group, port) is joined at send time; it is handed to every such receiver open at arrival.
/// A node with two interfaces on one LAN therefore hears each datagram twice. Nothing is
/// routed between LANs. The sending node hears its own datagram only when the sending
/// transport has `loopback` on; looped-back copies are never lost, duplicated, reordered or
/// jittered and arrive after the profile's plain `delay`.
///
/// See the file comment for determinism, thread safety and lifetimes.
class network {
 public:
  /// Counters over the whole network (a plain struct, copied out).
  struct stats_type {
    std::uint64_t sent = 0;         ///< datagram copies put on a LAN (one per sending interface)
    std::uint64_t delivered = 0;    ///< handler calls (one per receiver per arrival)
    std::uint64_t lost = 0;         ///< deliveries dropped by `fault_profile::loss`
    std::uint64_t duplicated = 0;   ///< extra copies made by `fault_profile::duplicate`
    std::uint64_t reordered = 0;    ///< copies held back by `fault_profile::reorder`
    std::uint64_t partitioned = 0;  ///< deliveries blocked by a partition (at send or arrival)
    std::uint64_t crashed = 0;      ///< arrivals dropped because the receiving node crashed
  };

  /// The default start of virtual time: 1'700'000'000 s after the clock's epoch.
  static constexpr clock::time_point default_start{std::chrono::seconds{1'700'000'000}};

  /// Makes a network whose virtual time starts at `start`, and makes it current for
  /// `sim::clock::now()` on this thread (until it is destroyed or another one is made).
  explicit network(std::uint64_t seed, clock::time_point start = default_start)
      : seed_(seed), start_(start), now_(start), fault_rng_(seed), app_rng_(seed ^ 0x5851f42d4c957f2dull) {
    detail::register_clock(&now_);
  }

  network(const network&) = delete;
  network& operator=(const network&) = delete;

  ~network() {
    closing_ = true;  // handlers destroyed from here on must not post or schedule
    events_.clear();
    ctx_.reset();  // destroys handlers still queued while the nodes still exist
    nodes_.clear();
    detail::unregister_clock(&now_);
  }

  /// The `io_context` where every handler of every node runs (driven by `run_*`).
  asio::io_context& context() noexcept { return *ctx_; }
  /// `context().get_executor()`.
  asio::io_context::executor_type get_executor() noexcept { return ctx_->get_executor(); }
  /// The seed the network was made with.
  std::uint64_t seed() const noexcept { return seed_; }

  // -- topology --------------------------------------------------------------------------

  /// Adds a LAN (a broadcast domain, like a switch or bridge) and returns its index.
  std::size_t add_lan(std::string name) {
    lans_.push_back(lan{std::move(name), std::nullopt, {}});
    trace_line("lan " + lans_.back().name);
    return lans_.size() - 1;
  }

  /// Number of LANs added so far.
  std::size_t lan_count() const noexcept { return lans_.size(); }
  /// The name given to `add_lan`. Throws `std::out_of_range` for an unknown index.
  const std::string& lan_name(std::size_t lan) const { return lans_.at(lan).name; }

  /// Adds a node without interfaces. Throws `std::invalid_argument` if the name is empty or
  /// already taken.
  node& add_node(std::string name) {
    if (name.empty()) throw std::invalid_argument("sim::network::add_node: empty node name");
    if (find_node(name) != nullptr) {
      throw std::invalid_argument("sim::network::add_node: node '" + name + "' already exists");
    }
    nodes_.push_back(std::unique_ptr<node>(new node(*this, nodes_.size(), std::move(name))));
    trace_line("node " + nodes_.back()->name());
    return *nodes_.back();
  }

  /// The node with that name, or null.
  node* find_node(std::string_view name) noexcept {
    for (auto& n : nodes_) {
      if (n->name() == name) return n.get();
    }
    return nullptr;
  }

  /// Number of nodes added so far.
  std::size_t node_count() const noexcept { return nodes_.size(); }
  /// The node with that `id()`. Throws `std::out_of_range` for an unknown id.
  node& node_at(std::size_t id) { return *nodes_.at(id); }

  /// Gives node `n` a new interface named `interface_name` on LAN `lan`. A node may have any
  /// number of interfaces, on different LANs (multi-homed) or on the same one. Transports
  /// choose their interfaces when they are opened, so they do not see interfaces attached
  /// later. Throws `std::out_of_range` for an unknown LAN, `std::invalid_argument` for a node
  /// of another network or an empty or duplicate interface name.
  void attach(node& n, std::size_t lan, std::string interface_name) {
    check_node(n, "attach");
    if (lan >= lans_.size()) throw std::out_of_range("sim::network::attach: unknown LAN index");
    if (interface_name.empty()) throw std::invalid_argument("sim::network::attach: empty interface name");
    for (const auto& i : n.interfaces_) {
      if (i.name == interface_name) {
        throw std::invalid_argument("sim::network::attach: node '" + n.name() + "' already has interface '" +
                                    interface_name + "'");
      }
    }
    n.interfaces_.push_back(interface_info{std::move(interface_name), lan});
    lans_[lan].attachments.emplace_back(n.id(), n.interfaces_.size() - 1);
    trace_line("attach " + n.name() + "/" + n.interfaces_.back().name + " " + lans_[lan].name);
  }

  // -- faults ----------------------------------------------------------------------------

  /// Sets the profile used for every delivery that no LAN or node profile covers.
  void set_faults(const fault_profile& profile) {
    validate(profile);
    faults_ = profile;
  }

  /// Sets the profile of one LAN; it replaces the global one for deliveries on that LAN.
  void set_faults(std::size_t lan, const fault_profile& profile) {
    validate(profile);
    lans_.at(lan).faults = profile;
  }

  /// Removes a LAN's own profile (the global one applies again).
  void clear_faults(std::size_t lan) { lans_.at(lan).faults.reset(); }

  /// Sets the profile of every delivery to node `n` (e.g. 5% loss on one receiver); it
  /// replaces both the LAN and the global profile for that node.
  void set_receive_faults(node& n, const fault_profile& profile) {
    check_node(n, "set_receive_faults");
    validate(profile);
    n.receive_faults_ = profile;
  }

  /// Removes a node's own profile.
  void clear_receive_faults(node& n) {
    check_node(n, "clear_receive_faults");
    n.receive_faults_.reset();
  }

  /// The global profile.
  const fault_profile& faults() const noexcept { return faults_; }

  /// The profile that applies to deliveries to node `n` on LAN `lan`: the node's own, else
  /// the LAN's, else the global one.
  const fault_profile& effective_faults(const node& n, std::size_t lan) const {
    if (n.receive_faults_) return *n.receive_faults_;
    if (lans_.at(lan).faults) return *lans_[lan].faults;
    return faults_;
  }

  /// Cuts every path between a node of `side_a` and a node of `side_b`, in both directions,
  /// until `heal()`. Datagrams already in flight across the cut are dropped when they arrive.
  /// Partitions add up; a node on neither side is unaffected.
  void partition(const std::vector<node*>& side_a, const std::vector<node*>& side_b) {
    cut c;
    for (auto* n : side_a) {
      check_node(*n, "partition");
      c.a.push_back(n->id());
    }
    for (auto* n : side_b) {
      check_node(*n, "partition");
      c.b.push_back(n->id());
    }
    std::sort(c.a.begin(), c.a.end());
    std::sort(c.b.begin(), c.b.end());
    std::string line = "partition";
    for (auto id : c.a) line += " " + nodes_[id]->name();
    line += " |";
    for (auto id : c.b) line += " " + nodes_[id]->name();
    trace_line(line);
    cuts_.push_back(std::move(c));
  }

  /// Removes every partition.
  void heal() {
    cuts_.clear();
    trace_line("heal");
  }

  /// True if a partition separates the two nodes.
  bool partitioned(const node& x, const node& y) const noexcept { return partitioned(x.id(), y.id()); }

  /// Crashes node `n`: its transports stop sending and receiving for good, its receivers are
  /// closed, datagrams in flight to it are lost, its timers never fire again, and handlers of
  /// its transports and timers already posted do not run. No effect on a crashed node.
  void crash(node& n) {
    check_node(n, "crash");
    if (n.crashed_) return;
    n.crashed_ = true;
    ++n.incarnation_;
    // Moved out first: destroying a handler may re-enter close_receiver.
    auto dead = std::move(n.receivers_);
    n.receivers_.clear();
    trace_line("crash " + n.name());
  }

  /// Brings a crashed node back, with its interfaces and fault profile but no receivers.
  /// Transports and timers made before (or during) the crash stay dead; make new ones.
  void restart(node& n) {
    check_node(n, "restart");
    if (!n.crashed_) return;
    n.crashed_ = false;
    ++n.incarnation_;
    trace_line("restart " + n.name());
  }

  // -- running ---------------------------------------------------------------------------

  /// The current virtual time.
  clock::time_point now() const noexcept { return now_; }
  /// Virtual time elapsed since the network started.
  clock::duration elapsed() const noexcept { return now_ - start_; }

  /// Runs every event due up to `now() + d`, then sets `now()` to exactly that time.
  /// Returns the number of events processed. Never sleeps.
  ///
  /// The `run_*` members are not re-entrant: called from inside a handler they throw
  /// `std::logic_error`. An exception thrown by a handler propagates out of them; the network
  /// stays usable.
  std::size_t run_for(clock::duration d) {
    const run_scope scope(*this);
    const auto deadline = detail::saturating_add(now_, d);
    std::size_t processed = 0;
    for (;;) {
      drain();
      if (!step(deadline)) break;
      ++processed;
    }
    now_ = std::max(now_, deadline);
    return processed;
  }

  /// Runs until `p()` returns true (checked before the first event and after each one, once
  /// the handlers it made ready have run) or virtual time reaches `now() + timeout`.
  /// Returns true if `p()` became true; `now()` is then the time it did. On timeout,
  /// `now()` is `now() + timeout` and the result is false.
  template <class Pred>
    requires std::predicate<Pred&>
  bool run_until(Pred p, clock::duration timeout) {
    const run_scope scope(*this);
    const auto deadline = detail::saturating_add(now_, timeout);
    for (;;) {
      drain();
      if (p()) return true;
      if (!step(deadline)) break;
    }
    now_ = std::max(now_, deadline);
    return false;
  }

  /// Runs until no event is pending and no handler is ready, or until `now() + max`
  /// (whichever is first). Returns the number of events processed. When it goes idle,
  /// `now()` stays at the last event's time. Anything that re-arms itself forever (a
  /// publisher's resend timer) keeps the network busy until `max`.
  std::size_t run_until_idle(clock::duration max = std::chrono::hours{24}) {
    const run_scope scope(*this);
    const auto deadline = detail::saturating_add(now_, max);
    std::size_t processed = 0;
    for (;;) {
      drain();
      if (events_.empty()) return processed;
      if (!step(deadline)) break;
      ++processed;
    }
    now_ = std::max(now_, deadline);
    return processed;
  }

  /// Posts `f` to `context()` when virtual time reaches `t` (at once if `t` is past):
  /// a scenario step such as `net.post_at(t0 + 5s, [&] { net.crash(b); })`.
  void post_at(clock::time_point t, std::function<void()> f) {
    if (!f) throw std::invalid_argument("sim::network::post_at: empty function");
    schedule(t, [this, f = std::move(f)] { asio::post(*ctx_, f); });
  }

  /// `post_at(now() + d, f)`.
  void post_after(clock::duration d, std::function<void()> f) {
    post_at(detail::saturating_add(now_, d), std::move(f));
  }

  /// Number of events waiting in the queue.
  std::size_t pending_events() const noexcept { return events_.size(); }

  // -- randomness, statistics, trace -----------------------------------------------------

  /// The next 64 bits of the network's application PRNG (xoshiro256**), e.g. for publisher
  /// ids. A stream separate from the fault decisions: drawing from it does not change which
  /// datagrams are lost.
  std::uint64_t random() noexcept { return app_rng_(); }

  /// The application PRNG itself (for `below()`, `unit()`).
  random_engine& rng() noexcept { return app_rng_; }

  /// The network-wide counters.
  stats_type stats() const noexcept { return stats_; }

  /// Installs (or, with an empty function, removes) a sink for a human-readable trace: one
  /// line per send, delivery, loss, duplicate, reorder, partition drop, timer expiry, crash,
  /// restart and topology change, each prefixed with the virtual time since start
  /// (`+12.000050000`). Lines are the same for the same seed and scenario, so printing the
  /// trace of a failing seed shows the exact run.
  void set_trace(std::function<void(std::string_view)> sink) { trace_ = std::move(sink); }

 private:
  friend class timer;
  friend class transport;

  // Marks the network as running (and current for sim::clock::now()) for one run_* call.
  class run_scope {
   public:
    explicit run_scope(network& net) : net_(net), clock_(&net.now_) {
      if (net_.running_) throw std::logic_error("sim::network: run_* called from inside a handler");
      net_.running_ = true;
    }
    ~run_scope() { net_.running_ = false; }
    run_scope(const run_scope&) = delete;
    run_scope& operator=(const run_scope&) = delete;

   private:
    network& net_;
    detail::running_clock_scope clock_;
  };

  struct lan {
    std::string name;
    std::optional<fault_profile> faults;
    std::vector<std::pair<std::size_t, std::size_t>> attachments;  // (node id, interface index)
  };

  struct cut {
    std::vector<std::size_t> a;
    std::vector<std::size_t> b;
  };

  struct event {
    clock::time_point at;
    std::uint64_t sequence;
    std::function<void()> run;
  };

  // One copy of a datagram on its way to one interface of one node.
  struct arrival {
    std::size_t from;
    std::size_t to;
    std::uint64_t incarnation;  // of the receiving node at send time
    std::size_t interface;      // index into the receiving node's interfaces
    bool local;                 // looped back to the sending node
    endpoint group;
    std::shared_ptr<const std::vector<std::byte>> bytes;
    std::uint64_t hash;
  };

  static bool later(const event& x, const event& y) noexcept {
    return x.at != y.at ? x.at > y.at : x.sequence > y.sequence;
  }

  static void validate(const fault_profile& p) {
    const auto probability = [](double v) { return v >= 0.0 && v <= 1.0; };  // false for NaN
    if (!probability(p.loss) || !probability(p.duplicate) || !probability(p.reorder)) {
      throw std::invalid_argument("sim::fault_profile: probabilities must lie in [0, 1]");
    }
    if (p.delay.count() < 0 || p.jitter.count() < 0 || p.reorder_delay.count() < 0) {
      throw std::invalid_argument("sim::fault_profile: durations must not be negative");
    }
  }

  void check_node(const node& n, const char* what) const {
    if (n.net_ != this) {
      throw std::invalid_argument(std::string("sim::network::") + what + ": node of another network");
    }
  }

  bool partitioned(std::size_t x, std::size_t y) const noexcept {
    const auto in = [](const std::vector<std::size_t>& side, std::size_t id) {
      return std::binary_search(side.begin(), side.end(), id);
    };
    for (const auto& c : cuts_) {
      if ((in(c.a, x) && in(c.b, y)) || (in(c.a, y) && in(c.b, x))) return true;
    }
    return false;
  }

  void schedule(clock::time_point t, std::function<void()> run) {
    if (closing_) return;
    events_.push_back(event{std::max(t, now_), next_sequence_++, std::move(run)});
    std::push_heap(events_.begin(), events_.end(), later);
  }

  // Runs every ready handler, including those they post.
  void drain() {
    for (;;) {
      if (ctx_->stopped()) ctx_->restart();
      if (ctx_->poll() == 0) break;
    }
  }

  // Takes the next event if it is due by `deadline`, moves virtual time to it and runs it.
  bool step(clock::time_point deadline) {
    if (events_.empty() || events_.front().at > deadline) return false;
    std::pop_heap(events_.begin(), events_.end(), later);
    event e = std::move(events_.back());
    events_.pop_back();
    now_ = e.at;
    e.run();
    return true;
  }

  bool tracing() const noexcept { return static_cast<bool>(trace_); }

  void trace_line(const std::string& what) const {
    if (!trace_) return;
    const auto ns = (now_ - start_).count();
    const auto abs = ns < 0 ? -ns : ns;
    std::string fraction = std::to_string(abs % 1'000'000'000);
    fraction.insert(0, 9 - fraction.size(), '0');
    trace_(std::string(ns < 0 ? "-" : "+") + std::to_string(abs / 1'000'000'000) + "." + fraction + " " + what);
  }

  std::string where(std::size_t node_id, std::size_t interface) const {
    const node& n = *nodes_[node_id];
    return n.name() + "/" + n.interfaces()[interface].name;
  }

  static std::string describe(const endpoint& group, std::size_t size, std::uint64_t hash) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string h(16, '0');
    for (int i = 15; i >= 0; --i, hash >>= 4) h[static_cast<std::size_t>(i)] = digits[hash & 0xf];
    return group.to_string() + " " + std::to_string(size) + "B #" + h;
  }

  // transport::send, once the transport is known to be open and alive.
  send_result transmit(detail::transport_state& t, const endpoint& group, std::span<const std::byte> bytes);

  void schedule_arrival(const arrival& a, clock::duration delay) {
    schedule(detail::saturating_add(now_, delay), [this, a] { arrive(a); });
  }

  void arrive(const arrival& a);

  void fire(const std::weak_ptr<detail::timer_state>& weak, std::uint64_t wait);

  std::uint64_t seed_;
  clock::time_point start_;
  clock::time_point now_;
  random_engine fault_rng_;
  random_engine app_rng_;
  stats_type stats_;
  fault_profile faults_;
  std::vector<cut> cuts_;
  std::function<void(std::string_view)> trace_;
  std::vector<lan> lans_;
  std::vector<std::unique_ptr<node>> nodes_;
  std::vector<event> events_;  // a heap ordered by `later`
  std::uint64_t next_sequence_ = 0;
  receiver_id next_receiver_ = 1;
  bool closing_ = false;
  bool running_ = false;
  std::unique_ptr<asio::io_context> ctx_ = std::make_unique<asio::io_context>(1);
};

inline asio::io_context::executor_type node::get_executor() const noexcept { return net_->get_executor(); }

// ---------------------------------------------------------------------------------------------
// timer

/// A one-shot timer on virtual time, used like `asio::basic_waitable_timer<sim::clock>`:
/// `expires_at` / `expires_after` set the expiry (cancelling pending waits), `async_wait`
/// completes with an empty `std::error_code` at exactly the expiry (at once, in a later
/// handler, if the expiry is already past), and `cancel()` or the destructor complete pending
/// waits with `asio::error::operation_aborted`. Completions are posted to the handler's
/// associated executor (default: the network's), never called from inside `async_wait`.
/// Any Asio completion token for `void(std::error_code)` works.
///
/// A timer made for a node (`timer(node&)`, or `transport::make_timer()`) dies with the
/// node's incarnation: after `network::crash`, pending and later waits never complete, and
/// their handlers are destroyed unrun. A timer made for the network is never affected.
///
/// Not thread-safe. Movable; a moved-from timer may only be destroyed or assigned to.
///
/// ```cpp
/// racket::sim::timer t{net};
/// t.expires_after(std::chrono::milliseconds{10});
/// t.async_wait([](std::error_code ec) { if (!ec) { /* fired at start + 10 ms */ } });
/// net.run_for(std::chrono::seconds{1});
/// ```
class timer {
 public:
  using clock_type = sim::clock;
  using duration = clock::duration;
  using time_point = clock::time_point;
  using executor_type = asio::io_context::executor_type;

  /// A network-wide timer.
  explicit timer(network& net) : state_(std::make_shared<detail::timer_state>()) { state_->net = &net; }

  /// A timer belonging to the current incarnation of node `n`.
  explicit timer(node& n) : timer(n, n.incarnation()) {}

  timer(timer&&) noexcept = default;

  timer& operator=(timer&& other) noexcept {
    if (this != &other) {
      if (state_) cancel();
      state_ = std::move(other.state_);
    }
    return *this;
  }

  /// Cancels pending waits (they complete with `operation_aborted`).
  ~timer() {
    if (state_) cancel();
  }

  /// The executor completions run on by default.
  executor_type get_executor() const noexcept { return state_->net->get_executor(); }

  /// The expiry last set (the epoch for a new timer, so a wait completes at once).
  time_point expiry() const noexcept { return state_->expiry; }

  /// Sets the expiry; pending waits complete with `operation_aborted`. Returns how many.
  std::size_t expires_at(time_point t) {
    const auto cancelled = cancel();
    state_->expiry = t;
    return cancelled;
  }

  /// `expires_at(network.now() + d)`.
  std::size_t expires_after(duration d) {
    return expires_at(detail::saturating_add(state_->net->now(), d));
  }

  /// Starts a wait that completes at the expiry with an empty error code, or with
  /// `asio::error::operation_aborted` when cancelled first. Several waits may be pending.
  template <asio::completion_token_for<void(std::error_code)> WaitToken>
  auto async_wait(WaitToken&& token) {
    return asio::async_initiate<WaitToken, void(std::error_code)>(
        [state = state_](auto handler) { start_wait(state, std::move(handler)); }, token);
  }

  /// Completes every pending wait with `asio::error::operation_aborted` (posted, not called
  /// here). Returns how many (0 on a dead node's timer, whose waits are dropped unrun).
  std::size_t cancel() {
    auto waits = std::move(state_->waits);
    state_->waits.clear();
    if (state_->net->closing_) return 0;  // the network is being destroyed: drop them
    const bool alive = is_alive(*state_);
    auto& ctx = state_->net->context();
    for (auto& [id, op] : waits) {
      if (alive) {
        op->complete(asio::error::operation_aborted, ctx, state_->owner, state_->incarnation);
      } else {
        discard(ctx, std::move(op));
      }
    }
    return alive ? waits.size() : 0;
  }

 private:
  friend class transport;
  friend class network;

  timer(node& n, std::uint64_t incarnation) : state_(std::make_shared<detail::timer_state>()) {
    state_->net = &n.net();
    state_->owner = &n;
    state_->incarnation = incarnation;
  }

  template <class Handler>
  struct wait_op_impl final : detail::wait_op {
    explicit wait_op_impl(Handler&& h) : handler(std::move(h)) {}

    void complete(std::error_code ec, asio::io_context& ctx, const node* owner,
                  std::uint64_t incarnation) override {
      auto ex = asio::get_associated_executor(handler, ctx.get_executor());
      asio::post(ex, [h = std::move(handler), ec, owner, incarnation]() mutable {
        if (owner != nullptr && (owner->crashed() || owner->incarnation() != incarnation)) return;
        std::move(h)(ec);
      });
    }

    Handler handler;
  };

  static bool is_alive(const detail::timer_state& s) noexcept {
    return s.owner == nullptr || (!s.owner->crashed() && s.owner->incarnation() == s.incarnation);
  }

  // Destroys a wait without running it, from the event loop rather than the caller's stack
  // (the handler may own the object that called us).
  static void discard(asio::io_context& ctx, std::unique_ptr<detail::wait_op> op) {
    asio::post(ctx, [op = std::move(op)] {});
  }

  template <class Handler>
  static void start_wait(const std::shared_ptr<detail::timer_state>& state, Handler&& handler) {
    auto op = std::make_unique<wait_op_impl<std::decay_t<Handler>>>(std::move(handler));
    if (state->net->closing_) return;
    if (!is_alive(*state)) {
      discard(state->net->context(), std::move(op));
      return;
    }
    const auto id = ++state->next_wait;
    state->waits.emplace_back(id, std::move(op));
    state->net->schedule(state->expiry, [net = state->net, weak = std::weak_ptr(state), id] { net->fire(weak, id); });
  }

  std::shared_ptr<detail::timer_state> state_;
};

inline void network::fire(const std::weak_ptr<detail::timer_state>& weak, std::uint64_t wait) {
  const auto state = weak.lock();
  if (!state) return;
  auto it = std::find_if(state->waits.begin(), state->waits.end(), [&](const auto& w) { return w.first == wait; });
  if (it == state->waits.end()) return;  // cancelled
  auto op = std::move(it->second);
  state->waits.erase(it);
  if (!timer::is_alive(*state)) return;  // the node crashed: never fires
  if (tracing()) trace_line(std::string("timer ") + (state->owner ? state->owner->name() : std::string("-")));
  op->complete({}, *ctx_, state->owner, state->incarnation);
}

// ---------------------------------------------------------------------------------------------
// transport

/// The simulated network's `racket::transport`: what `udp_transport` is to real sockets.
///
/// Made on a node with a `transport_options`: `interfaces` names the node's interfaces to use
/// (empty: all of them, in attach order), `loopback` decides whether the sending node's own
/// receivers hear its datagrams, and `ttl` and the buffer sizes are ignored. Interfaces are
/// dual-stack: one selection serves IPv4 and IPv6. Datagrams over 65'507 bytes (IPv4) or
/// 65'527 bytes (IPv6) are refused, like UDP. The bytes are copied at `send`.
///
/// Errors (`racket::errc`): `open` reports `unknown_interface` for a name the node lacks and
/// `no_interfaces` for a node without interfaces; `open_receiver` reports `not_open` before
/// `open` and `family_mismatch` for a group of a family not opened. Once the node crashes, the
/// transport is dead: `open`/`open_receiver` report `not_open` and `send` fails.
///
/// Not thread-safe; use it from the network's thread. Movable.
///
/// ```cpp
/// racket::sim::transport t{node, {.interfaces = {"eth0"}, .loopback = false}};
/// t.open(racket::address_family::v4);
/// auto id = t.open_receiver(group, [](std::span<const std::byte> d, const racket::receive_info& i) { ... });
/// t.send(group, bytes);
/// t.close_receiver(id);
/// ```
class transport {
 public:
  using context_type = node;
  using executor_type = asio::io_context::executor_type;
  using clock_type = sim::clock;
  using timer_type = sim::timer;

  /// Largest datagram `send` accepts for an IPv4 group (65'535 - 20 - 8).
  static constexpr std::size_t max_datagram_size_v4 = 65'507;
  /// Largest datagram `send` accepts for an IPv6 group (65'535 - 8).
  static constexpr std::size_t max_datagram_size_v6 = 65'527;

  /// A closed transport on node `n`, bound to its current incarnation.
  explicit transport(node& n, const transport_options& options = {})
      : state_(std::make_unique<detail::transport_state>()) {
    state_->host = &n;
    state_->options = options;
    state_->incarnation = n.incarnation();
  }

  transport(transport&&) noexcept = default;

  transport& operator=(transport&& other) noexcept {
    if (this != &other) {
      if (state_) close();
      state_ = std::move(other.state_);
    }
    return *this;
  }

  /// Closes every receiver.
  ~transport() {
    if (state_) close();
  }

  /// The network's executor: every receive handler and timer completion runs there.
  executor_type get_executor() const noexcept { return state_->host->get_executor(); }

  /// The node the transport lives on.
  node& context() const noexcept { return *state_->host; }

  /// A timer of the node's incarnation this transport belongs to.
  timer_type make_timer() const { return timer_type(*state_->host, state_->incarnation); }

  /// Selects interfaces (on the first successful call) and enables sending and receiving for
  /// `family`. Calling it again, for either family, keeps the selection.
  void open(address_family family, std::error_code& ec) {
    ec.clear();
    auto& s = *state_;
    node& host = *s.host;
    if (!host.alive(s.incarnation)) {
      ec = make_error_code(errc::not_open);
      return;
    }
    if (s.selection.empty()) {
      if (host.interfaces().empty()) {
        ec = make_error_code(errc::no_interfaces);
        return;
      }
      std::vector<std::size_t> selection;
      if (s.options.interfaces.empty()) {
        for (std::size_t i = 0; i < host.interfaces().size(); ++i) selection.push_back(i);
      } else {
        for (const auto& name : s.options.interfaces) {
          const auto& all = host.interfaces();
          const auto it = std::find_if(all.begin(), all.end(), [&](const interface_info& i) { return i.name == name; });
          if (it == all.end()) {
            ec = make_error_code(errc::unknown_interface);
            return;
          }
          const auto index = static_cast<std::size_t>(it - all.begin());
          if (std::find(selection.begin(), selection.end(), index) == selection.end()) selection.push_back(index);
        }
      }
      s.selection = std::move(selection);
    }
    (family == address_family::v4 ? s.open_v4 : s.open_v6) = true;
  }

  /// Throwing overload: `std::system_error` on failure.
  void open(address_family family) {
    std::error_code ec;
    open(family, ec);
    racket::detail::throw_if(ec, "sim::transport::open on node '" + state_->host->name() + "'");
  }

  /// True once `open` succeeded for some family (and until `close`).
  bool is_open() const noexcept { return state_->open_v4 || state_->open_v6; }

  /// Names of the selected interfaces, in selection order (`receive_info::interface_index`
  /// indexes this list). Empty before `open`.
  std::vector<std::string> interface_names() const {
    std::vector<std::string> names;
    for (auto i : state_->selection) names.push_back(state_->host->interfaces()[i].name);
    return names;
  }

  /// Sends one copy of `bytes` on every selected interface; never blocks. Counts interfaces in
  /// the result: `ok` each, or `failed` each (at least 1) when the transport is not open for
  /// the group's family, is dead (node crashed), or the datagram is too large.
  send_result send(const endpoint& group, std::span<const std::byte> bytes) {
    auto& s = *state_;
    const bool v6 = group.group.is_v6();
    const bool usable = s.host->alive(s.incarnation) && (v6 ? s.open_v6 : s.open_v4) &&
                        bytes.size() <= (v6 ? max_datagram_size_v6 : max_datagram_size_v4);
    if (!usable) {
      const auto failed = static_cast<std::uint32_t>(std::max<std::size_t>(1, s.selection.size()));
      s.stats.send_errors += failed;
      return send_result{.ok = 0, .failed = failed, .would_block = 0};
    }
    return s.host->net().transmit(s, group, bytes);
  }

  /// Starts receiving datagrams sent to `group` (exact address and port) on every selected
  /// interface. `handler(datagram, info)` runs on the network's executor once per datagram per
  /// interface it arrived on; it may call `close_receiver` on its own id.
  receiver_id open_receiver(const endpoint& group, datagram_handler handler, std::error_code& ec) {
    ec.clear();
    auto& s = *state_;
    if (!handler) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return 0;
    }
    if (!s.host->alive(s.incarnation) || !is_open()) {
      ec = make_error_code(errc::not_open);
      return 0;
    }
    if (!(group.group.is_v6() ? s.open_v6 : s.open_v4)) {
      ec = make_error_code(errc::family_mismatch);
      return 0;
    }
    network& net = s.host->net();
    const receiver_id id = net.next_receiver_++;
    s.host->receivers_.emplace(
        id, detail::receiver_entry{group, s.selection, std::make_shared<datagram_handler>(std::move(handler)), &s});
    s.receivers.push_back(id);
    return id;
  }

  /// Throwing overload: `std::system_error` on failure.
  receiver_id open_receiver(const endpoint& group, datagram_handler handler) {
    std::error_code ec;
    const auto id = open_receiver(group, std::move(handler), ec);
    racket::detail::throw_if(ec, "sim::transport::open_receiver " + group.to_string() + " on node '" +
                                     state_->host->name() + "'");
    return id;
  }

  /// Stops a receiver; datagrams not yet handed to it are dropped. Unknown ids are ignored.
  void close_receiver(receiver_id id) {
    auto& s = *state_;
    const auto it = std::find(s.receivers.begin(), s.receivers.end(), id);
    if (it == s.receivers.end()) return;
    s.receivers.erase(it);
    auto& table = s.host->receivers_;
    const auto entry = table.find(id);
    if (entry == table.end()) return;  // cleared by a crash
    auto handler = std::move(entry->second.handler);  // destroyed after the table is consistent
    table.erase(entry);
  }

  /// Counters of this transport.
  transport_stats stats() const { return state_->stats; }

  /// Closes every receiver and forgets the interface selection; `open` may be called again.
  void close() {
    while (!state_->receivers.empty()) close_receiver(state_->receivers.back());
    state_->selection.clear();
    state_->open_v4 = state_->open_v6 = false;
  }

 private:
  friend class network;
  std::unique_ptr<detail::transport_state> state_;
};

static_assert(racket::transport<transport>, "sim::transport must model racket::transport");

// ---------------------------------------------------------------------------------------------
// network: delivery

inline send_result network::transmit(detail::transport_state& t, const endpoint& group,
                                     std::span<const std::byte> bytes) {
  const node& sender = *t.host;
  auto copy = std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.end());
  const std::uint64_t hash = tracing() ? racket::detail::xxh3(bytes) : 0;
  send_result result;
  for (const auto own : t.selection) {
    const auto lan_index = sender.interfaces()[own].lan;
    ++stats_.sent;
    ++result.ok;
    ++t.stats.datagrams_sent;
    t.stats.bytes_sent += bytes.size();
    if (tracing()) trace_line("send " + where(sender.id(), own) + " " + describe(group, bytes.size(), hash));
    for (const auto& [to, interface] : lans_[lan_index].attachments) {
      node& receiver = *nodes_[to];
      if (!receiver.alive(receiver.incarnation()) || !receiver.listens(group, interface)) continue;
      arrival a{sender.id(), to, receiver.incarnation(), interface, to == sender.id(), group, copy, hash};
      const fault_profile& p = effective_faults(receiver, lan_index);
      if (a.local) {
        if (t.options.loopback) schedule_arrival(a, p.delay);
        continue;
      }
      if (partitioned(sender.id(), to)) {
        ++stats_.partitioned;
        if (tracing()) trace_line("partitioned " + where(to, interface) + " " + describe(group, bytes.size(), hash));
        continue;
      }
      if (p.loss > 0 && fault_rng_.unit() < p.loss) {
        ++stats_.lost;
        if (tracing()) trace_line("lost " + where(to, interface) + " " + describe(group, bytes.size(), hash));
        continue;
      }
      int copies = 1;
      if (p.duplicate > 0 && fault_rng_.unit() < p.duplicate) {
        copies = 2;
        ++stats_.duplicated;
        if (tracing()) trace_line("duplicate " + where(to, interface) + " " + describe(group, bytes.size(), hash));
      }
      for (int c = 0; c < copies; ++c) {
        auto delay = p.delay;
        if (p.jitter.count() > 0) {
          delay += clock::duration{static_cast<clock::rep>(fault_rng_.below(static_cast<std::uint64_t>(p.jitter.count()) + 1))};
        }
        if (p.reorder > 0 && fault_rng_.unit() < p.reorder) {
          delay += p.reorder_delay;
          ++stats_.reordered;
          if (tracing()) trace_line("reorder " + where(to, interface) + " " + describe(group, bytes.size(), hash));
        }
        schedule_arrival(a, delay);
      }
    }
  }
  return result;
}

inline void network::arrive(const arrival& a) {
  node& receiver = *nodes_[a.to];
  if (!receiver.alive(a.incarnation)) {
    ++stats_.crashed;
    if (tracing()) trace_line("crashed " + where(a.to, a.interface) + " " + describe(a.group, a.bytes->size(), a.hash));
    return;
  }
  if (!a.local && partitioned(a.from, a.to)) {
    ++stats_.partitioned;
    if (tracing()) trace_line("partitioned " + where(a.to, a.interface) + " " + describe(a.group, a.bytes->size(), a.hash));
    return;
  }
  for (const auto& [id, r] : receiver.receivers_) {
    if (!(r.group == a.group)) continue;
    for (std::size_t k = 0; k < r.interfaces.size(); ++k) {
      if (r.interfaces[k] != a.interface) continue;
      asio::post(*ctx_, [this, a, id = id, k] {
        node& host = *nodes_[a.to];
        if (!host.alive(a.incarnation)) {
          ++stats_.crashed;
          return;
        }
        const auto it = host.receivers_.find(id);
        if (it == host.receivers_.end()) return;  // closed since the arrival
        const auto handler = it->second.handler;  // keeps it alive if it closes itself
        auto& counters = it->second.owner->stats;
        ++counters.datagrams_received;
        counters.bytes_received += a.bytes->size();
        ++stats_.delivered;
        if (tracing()) {
          trace_line("deliver " + where(a.to, a.interface) + " " + describe(a.group, a.bytes->size(), a.hash) +
                     " from " + nodes_[a.from]->name());
        }
        (*handler)(std::span<const std::byte>(*a.bytes), receive_info{static_cast<std::uint32_t>(k)});
      });
    }
  }
}

}  // namespace racket::sim
