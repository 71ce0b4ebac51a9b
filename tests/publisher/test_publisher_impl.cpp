// SPDX-License-Identifier: MIT
// detail/publisher/publisher_impl.hpp: its transport_gate (the orchestrator itself is tested
// through the publisher, tests/sim/test_publisher.cpp and friends).
#include "racket/detail/publisher/publisher_impl.hpp"

#include "catch.hpp"

#include <vector>

namespace {

// Not a full transport: the gate then serialises calls with its own lock, and sends a batch
// datagram by datagram.
struct fake_transport {
  const racket::detail::transport_gate<fake_transport>* gate = nullptr;
  std::vector<bool> busy_during_send;
  racket::send_result send(const racket::endpoint&, std::span<const std::byte> bytes) {
    busy_during_send.push_back(gate->busy());
    return {.ok = static_cast<std::uint32_t>(bytes.size())};
  }
};

}  // namespace

TEST_CASE("transport_gate: sends are flagged busy, under the gate's lock", "[publisher][publisher_impl]") {
  fake_transport t;
  racket::detail::transport_gate<fake_transport> gate{t};
  t.gate = &gate;
  CHECK_FALSE(gate.segments());
  CHECK(gate.lock().owns_lock());  // the transport is not thread_safe: the gate locks for it

  const std::vector<std::byte> three(3), five(5);
  CHECK_FALSE(gate.busy());
  CHECK(gate.send(racket::endpoint{}, three).ok == 3);
  CHECK_FALSE(gate.busy());

  std::vector<racket::outgoing_datagram> batch{{.to = {}, .bytes = three}, {.to = {}, .bytes = five}};
  gate.send_batch(batch);
  CHECK(batch[0].result.ok == 3);
  CHECK(batch[1].result.ok == 5);
  CHECK(t.busy_during_send == std::vector<bool>{true, true, true});
  CHECK_FALSE(gate.busy());
  auto held = gate.lock();
  CHECK(held.owns_lock());
}
