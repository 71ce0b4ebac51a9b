// SPDX-License-Identifier: MIT
// libFuzzer target: multicast_pool::parse (both texts), endpoint_for, to_string round trip,
// and the throwing constructor's message.
//
// Input: u8 a, u8 b, then bytes: the first a bytes are the prefix text, the next b the port
// text, the rest a stream name.
#include "racket/pool.hpp"

#include "fuzz_common.hpp"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;
  racket::fuzz::input in{data, size};
  const std::size_t a = in.u8();
  const std::size_t b = in.u8();
  const std::string prefix(in.text(a));
  const std::string ports(in.text(b));
  const std::string name(in.text(in.size()));

  std::error_code ec;
  const auto pool = racket::multicast_pool::parse(prefix, ports, ec);
  try {
    racket::multicast_pool thrown{prefix, ports};
    RACKET_FUZZ_CHECK(!ec && thrown == pool);
  } catch (const std::system_error& e) {
    RACKET_FUZZ_CHECK(ec && e.code() == ec);
    RACKET_FUZZ_CHECK(std::string_view(e.what()).find("multicast pool") != std::string_view::npos);
  }
  if (ec) {
    RACKET_FUZZ_CHECK(ec.category() == racket::error_category());
    return 0;
  }
  RACKET_FUZZ_CHECK(pool.base().is_multicast());
  RACKET_FUZZ_CHECK(pool.host_bits() >= 1);
  RACKET_FUZZ_CHECK(pool.first_port() >= 1 && pool.first_port() <= pool.last_port());

  // to_string reads back as the same pool.
  const std::string text = pool.to_string();
  const auto space = text.find(' ');
  RACKET_FUZZ_CHECK(space != std::string::npos);
  std::error_code ec2;
  const auto again = racket::multicast_pool::parse(std::string_view(text).substr(0, space),
                                                   std::string_view(text).substr(space + 1), ec2);
  RACKET_FUZZ_CHECK(!ec2 && again == pool);

  // endpoint_for: an invalid name is refused, a valid one lands inside the pool.
  const auto ep = pool.endpoint_for(name, ec);
  RACKET_FUZZ_CHECK(!ec == !racket::validate_stream_name(name));
  if (!ec) {
    RACKET_FUZZ_CHECK(ep.port >= pool.first_port() && ep.port <= pool.last_port());
    RACKET_FUZZ_CHECK(ep.group.is_v4() == pool.is_v4());
    RACKET_FUZZ_CHECK(ep.group.is_multicast());
    std::error_code ec3;
    const auto in_pool = racket::multicast_pool::from(ep.group, pool.prefix_length(), 1, 1, ec3);
    // The group with its host bits cleared is the base: from() refuses it only for host bits.
    RACKET_FUZZ_CHECK(!ec3 || ec3 == racket::errc::pool_host_bits_set);
    (void)in_pool;
  } else {
    try {
      (void)pool.endpoint_for(name);
      RACKET_FUZZ_CHECK(false);
    } catch (const std::system_error& e) {
      RACKET_FUZZ_CHECK(std::string_view(e.what()).find("stream name '") != std::string_view::npos);
    }
  }
  return 0;
}
