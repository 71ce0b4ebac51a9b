// SPDX-License-Identifier: MIT
// transport_gate alone, over a fake transport: busy only inside a send, batches sent one by
// one where the transport has no send_batch, and what became of the datagrams reported once.
#include "racket/detail/publisher/transport_gate.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

namespace {

// Only what the gate calls; no send_batch, not thread safe.
struct fake_transport {
  std::function<racket::send_result()> next = [] { return racket::send_result{.ok = 1}; };
  std::function<void()> during_send;
  std::size_t sends = 0;
  racket::send_result send(const racket::endpoint&, std::span<const std::byte>) {
    ++sends;
    if (during_send) during_send();
    return next();
  }
};

const racket::endpoint to{asio::ip::make_address("239.255.0.1"), 19090};

}  // namespace

TEST_CASE("transport_gate: busy inside a send only, and a batch sent datagram by datagram", "[transport_gate]") {
  fake_transport t;
  racket::detail::transport_gate<fake_transport> gate(t);
  bool busy_inside = false;
  t.during_send = [&] { busy_inside = gate.busy(); };
  const std::byte b[3]{};
  CHECK(gate.send(to, b).ok == 1);
  CHECK(busy_inside);
  CHECK_FALSE(gate.busy());
  CHECK_FALSE(gate.segments());  // the fake has no segmentation_offload
  std::vector<racket::outgoing_datagram> batch(3, racket::outgoing_datagram{to, b});
  gate.send_batch(batch);
  CHECK(t.sends == 4);
  for (const auto& d : batch) CHECK(d.result.ok == 1);
  CHECK_FALSE(gate.take_losses());
}

TEST_CASE("transport_gate: losses are a refusal first, then a drop, each reported once", "[transport_gate]") {
  fake_transport t;
  racket::detail::transport_gate<fake_transport> gate(t);
  const std::byte b[1]{};
  t.next = [] { return racket::send_result{.would_block = 1}; };
  (void)gate.send(to, b);
  CHECK(gate.take_losses() == std::errc::no_buffer_space);
  CHECK_FALSE(gate.take_losses());  // reset
  (void)gate.send(to, b);
  t.next = [] { return racket::send_result{.failed = 1}; };
  (void)gate.send(to, b);
  CHECK(gate.take_losses() == std::errc::io_error);  // a refusal outranks a drop
  t.next = [] { return racket::send_result{.ok = 1, .failed = 1}; };
  (void)gate.send(to, b);
  CHECK_FALSE(gate.take_losses());  // one interface took it: not lost
}
