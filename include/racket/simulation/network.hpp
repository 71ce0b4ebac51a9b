// SPDX-License-Identifier: MIT
#pragma once

// The simulated network, all of it: this umbrella holds no code of its own and includes every
// public header of racket/simulation/, so that including it gives what it always gave.
//
//   clock.hpp         the virtual clock
//   random.hpp        the PRNG (xoshiro256**)
//   faults.hpp        fault profiles and the fault decision for one datagram
//   node.hpp          a simulated host
//   network_core.hpp  the network: topology, partitions, crashes, events, run loop, trace
//   timer.hpp         timers on virtual time
//   transport.hpp     sim::transport, the racket::transport over it

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

#include "racket/simulation/clock.hpp"
#include "racket/simulation/faults.hpp"
#include "racket/simulation/network_core.hpp"
#include "racket/simulation/node.hpp"
#include "racket/simulation/random.hpp"
#include "racket/simulation/timer.hpp"
#include "racket/simulation/transport.hpp"
