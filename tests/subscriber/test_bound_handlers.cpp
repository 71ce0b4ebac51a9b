// SPDX-License-Identifier: MIT
// detail::runs_on_strand and the handlers made from it: a handler without an executor, or
// bound to the strand itself, is called inline; one bound elsewhere gets an owned copy of its
// arguments, posted there.
#include "racket/detail/subscriber/bound_handlers.hpp"

#include "catch.hpp"

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>

#include <string>
#include <system_error>

TEST_CASE("a handler runs on the strand unless bound to another executor", "[subscriber][bound_handlers]") {
  asio::io_context io, other;
  const auto ex = io.get_executor();
  auto plain = [](int) {};
  CHECK(racket::detail::runs_on_strand(plain, ex));
  CHECK(racket::detail::runs_on_strand(asio::bind_executor(ex, plain), ex));
  CHECK_FALSE(racket::detail::runs_on_strand(asio::bind_executor(other.get_executor(), plain), ex));
  CHECK_FALSE(racket::detail::runs_on_strand(asio::bind_executor(asio::make_strand(io), plain), ex));
}

TEST_CASE("a loss handler bound elsewhere gets its event copied and posted", "[subscriber][bound_handlers]") {
  asio::io_context io, other;
  std::string stream;
  int calls = 0;
  auto h = racket::detail::make_loss_handler(asio::bind_executor(other, [&](const racket::loss_event& e) {
                                               stream = std::string(e.stream);
                                               ++calls;
                                             }),
                                             io.get_executor());
  {
    std::string name = "s";
    h(racket::loss_event{name, 1, 2, 3});
    name = "gone";
  }
  CHECK(calls == 0);
  other.run();
  CHECK(calls == 1);
  CHECK(stream == "s");

  int inline_calls = 0;
  auto direct = racket::detail::make_error_handler([&](const std::error_code&, std::string_view) { ++inline_calls; },
                                                   io.get_executor());
  direct(std::error_code{}, "x");
  CHECK(inline_calls == 1);  // on the strand: called as is (the caller is on the strand)
}
