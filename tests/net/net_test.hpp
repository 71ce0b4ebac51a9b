// SPDX-License-Identifier: MIT
// What every test on real sockets shares: the guard that refuses to send outside a private
// network namespace, waiting on a condition with a deadline (never a bare sleep), and the
// small pieces of the transport tests (datagrams as bytes and strings, endpoints, a handler
// that collects what arrives).
#pragma once

#include "catch.hpp"
#include "net/netns_guard.hpp"

#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

// Fails the test (before anything is sent) unless only lo and the test's own rk* interfaces exist.
#define REQUIRE_PRIVATE_NETNS()                                 \
  do {                                                          \
    std::string why_;                                           \
    const bool private_ = racket::test::in_private_netns(why_); \
    INFO(why_);                                                 \
    REQUIRE(private_);                                          \
  } while (false)

namespace racket::test {

// Runs `io` until `done()` holds or `timeout` passes; returns done().
template <class Predicate>
bool run_until(asio::io_context& io, Predicate done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds{3000}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds{10});
  }
  return true;
}

// Reads every buffer queued on the non-blocking UDP socket `fd`, calling
// `f(std::span<const std::byte> buffer, int gro_segment)` for each; `gro_segment` is the
// segment size of a buffer the kernel coalesced (UDP_GRO), 0 for a single datagram.
template <class F>
void read_queued(int fd, F&& f) {
  std::vector<std::byte> buffer(65536);
  for (;;) {
    alignas(cmsghdr) char control[256];
    iovec v{buffer.data(), buffer.size()};
    msghdr h{};
    h.msg_iov = &v;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &h, 0);
    if (n < 0) return;
    int segment = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == 104 /* UDP_GRO */)
        std::memcpy(&segment, CMSG_DATA(c), sizeof segment);
    f(std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(n)), segment);
  }
}

// Runs `io` for `d` of real time: only to show that something does NOT happen meanwhile.
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  if (io.stopped()) io.restart();
  io.run_for(d);
}

// The bytes of `s`, a datagram to send.
inline std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

// A datagram's bytes as a string, to compare.
inline std::string string_of(std::span<const std::byte> d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// Group address (IPv4 or IPv6) and port.
inline endpoint ep(const char* group, std::uint16_t port) { return endpoint{asio::ip::make_address(group), port}; }

// What a transport delivered to handler(): each datagram as a string, and the index of the
// interface it arrived on.
struct collected {
  std::vector<std::string> datagrams;
  std::vector<std::uint32_t> interfaces;
  datagram_handler handler() {
    return [this](std::span<const std::byte> d, const receive_info& info) {
      datagrams.push_back(string_of(d));
      interfaces.push_back(info.interface_index);
    };
  }
  bool has(const std::string& s) const { return std::find(datagrams.begin(), datagrams.end(), s) != datagrams.end(); }
};

}  // namespace racket::test
