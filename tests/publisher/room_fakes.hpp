// SPDX-License-Identifier: MIT
// What the publisher's room tests share: a clock type that cannot be read (a room that read
// the time itself would not compile against it), a Sender that keeps what it is given, and
// byte helpers.
#pragma once

#include "racket/codec.hpp"
#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace room_test {

// Time types only: no now().
struct no_clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<no_clock, duration>;
  static constexpr bool is_steady = true;
};

using time_point = no_clock::time_point;
using namespace std::chrono_literals;

inline time_point at(std::chrono::nanoseconds since_start) {
  return time_point{std::chrono::hours{1000}} + since_start;  // far from the epoch
}

inline racket::byte_view bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string string_of(racket::byte_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A Sender (packer.hpp) that copies every datagram it is handed and decodes it.
struct recording_sender {
  struct sent {
    racket::endpoint to{};
    std::vector<std::byte> bytes{};
    std::uint16_t run_length = 0;
    bool batched = false;
    std::size_t padding = 0;
    std::vector<std::string> subjects{};
    std::vector<std::uint8_t> flags{};
    std::size_t natural_size() const { return bytes.size() - padding; }
  };

  bool segmenting = false;
  int single_sends = 0;
  int batches = 0;
  std::vector<sent> log;

  racket::send_result send(const racket::endpoint& to, std::span<const std::byte> b) {
    ++single_sends;
    keep(to, b, 0, false);
    return {.ok = 1};
  }
  void send_batch(std::span<racket::outgoing_datagram> batch) {
    ++batches;
    for (auto& d : batch) {
      // A datagram in pieces (a fragment: head, payload slice, trailer) as the wire has it.
      std::vector<std::byte> whole(d.bytes.begin(), d.bytes.end());
      for (const auto& piece : d.rest) whole.insert(whole.end(), piece.begin(), piece.end());
      keep(d.to, whole, d.run_length, true);
      d.result = {.ok = 2};  // two interfaces took it
    }
  }
  bool segments() const noexcept { return segmenting; }

  std::vector<std::string> all_subjects() const {
    std::vector<std::string> out;
    for (const auto& s : log) out.insert(out.end(), s.subjects.begin(), s.subjects.end());
    return out;
  }

 private:
  void keep(const racket::endpoint& to, std::span<const std::byte> b, std::uint16_t run, bool batched) {
    sent s{.to = to, .bytes = {b.begin(), b.end()}, .run_length = run, .batched = batched};
    std::error_code ec;
    const auto view = racket::wire::decode(s.bytes, ec);
    if (!ec) {
      s.padding = view.padding_size();
      for (const auto& r : view) {
        s.subjects.emplace_back(r.subject);
        s.flags.push_back(r.flags);
      }
    } else {
      s.subjects.push_back("<undecodable: " + ec.message() + ">");
    }
    log.push_back(std::move(s));
  }
};

}  // namespace room_test
