// SPDX-License-Identifier: MIT
#pragma once

// `sim::network` without its timers and transport: LANs and the nodes attached to them, fault
// settings, partitions, crash and restart, the event queue and the run loop over virtual time,
// the PRNGs, counters and trace, and how a datagram travels from a sending transport to
// receivers (detail/impl/delivery.ipp). Must not know timers or the transport class: they are
// built on it (timer.hpp, transport.hpp), and network.hpp gathers them all.

#include "racket/endpoint.hpp"
#include "racket/simulation/clock.hpp"
#include "racket/simulation/detail/event_queue.hpp"
#include "racket/simulation/detail/partitions.hpp"
#include "racket/simulation/detail/trace.hpp"
#include "racket/simulation/detail/transport_state.hpp"
#include "racket/simulation/faults.hpp"
#include "racket/simulation/node.hpp"
#include "racket/simulation/random.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket::sim {

class timer;
class transport;

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
/// See the file comment of `racket/simulation/network.hpp` for determinism, thread safety and
/// lifetimes.
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
    return most_specific_profile(n.receive_faults_, lans_.at(lan).faults, faults_);
  }

  /// Cuts every path between a node of `side_a` and a node of `side_b`, in both directions,
  /// until `heal()`. Datagrams already in flight across the cut are dropped when they arrive.
  /// Partitions add up; a node on neither side is unaffected.
  void partition(const std::vector<node*>& side_a, const std::vector<node*>& side_b) {
    std::vector<std::size_t> a, b;
    for (auto* n : side_a) {
      check_node(*n, "partition");
      a.push_back(n->id());
    }
    for (auto* n : side_b) {
      check_node(*n, "partition");
      b.push_back(n->id());
    }
    auto c = detail::partition_set::cut::between(std::move(a), std::move(b));
    std::string line = "partition";
    for (auto id : c.a) line += " " + nodes_[id]->name();
    line += " |";
    for (auto id : c.b) line += " " + nodes_[id]->name();
    trace_line(line);
    partitions_.add(std::move(c));
  }

  /// Removes every partition.
  void heal() {
    partitions_.clear();
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
  void set_trace(std::function<void(std::string_view)> sink) { trace_.set_sink(std::move(sink)); }

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

  void check_node(const node& n, const char* what) const {
    if (n.net_ != this) {
      throw std::invalid_argument(std::string("sim::network::") + what + ": node of another network");
    }
  }

  bool partitioned(std::size_t x, std::size_t y) const noexcept { return partitions_.separated(x, y); }

  void schedule(clock::time_point t, std::function<void()> run) {
    if (closing_) return;
    events_.push(std::max(t, now_), std::move(run));
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
    if (events_.empty() || events_.next_at() > deadline) return false;
    auto e = events_.pop();
    now_ = e.at;
    e.run();
    return true;
  }

  bool tracing() const noexcept { return trace_.on(); }

  void trace_line(const std::string& what) const { trace_.line(now_ - start_, what); }

  // "node/interface group size B #hash", for the trace.
  std::string describe(std::size_t node_id, std::size_t interface, const endpoint& group, std::size_t size,
                       std::uint64_t hash) const {
    const node& n = *nodes_[node_id];
    return n.name() + "/" + n.interfaces()[interface].name + " " + detail::tracer::describe(group, size, hash);
  }

  // transport::send, once the transport is known to be open and alive.
  send_result transmit(detail::transport_state& t, const endpoint& group, std::span<const std::byte> bytes);

  void schedule_arrival(const arrival& a, clock::duration delay) {
    schedule(detail::saturating_add(now_, delay), [this, a] { arrive(a); });
  }

  void arrive(const arrival& a);

  std::uint64_t seed_;
  clock::time_point start_;
  clock::time_point now_;
  random_engine fault_rng_;
  random_engine app_rng_;
  stats_type stats_;
  fault_profile faults_;
  detail::partition_set partitions_;
  detail::tracer trace_;
  std::vector<lan> lans_;
  std::vector<std::unique_ptr<node>> nodes_;
  detail::event_queue events_;
  receiver_id next_receiver_ = 1;
  bool closing_ = false;
  bool running_ = false;
  std::unique_ptr<asio::io_context> ctx_ = std::make_unique<asio::io_context>(1);
};

inline asio::io_context::executor_type node::get_executor() const noexcept { return net_->get_executor(); }

}  // namespace racket::sim

#include "racket/simulation/detail/impl/delivery.ipp"
