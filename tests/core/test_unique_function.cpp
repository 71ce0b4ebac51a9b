// SPDX-License-Identifier: MIT
// racket::detail::unique_function: holds move-only callables, moves without copying or moving
// the callable, is empty when default-made or made from an empty std::function, and destroys
// its callable exactly once.
#include "racket/detail/unique_function.hpp"

#include "catch.hpp"

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

using racket::detail::unique_function;

static_assert(!std::is_copy_constructible_v<unique_function<void()>>);
static_assert(std::is_nothrow_move_constructible_v<unique_function<void()>>);

TEST_CASE("a unique_function holds and calls a move-only callable", "[core][unique_function]") {
  auto p = std::make_unique<int>(41);
  unique_function<int(int)> f = [p = std::move(p)](int add) { return *p + add; };
  REQUIRE(f);
  CHECK(f(1) == 42);
  unique_function<int(int)> g = std::move(f);
  CHECK_FALSE(f);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  CHECK(g(2) == 43);
}

TEST_CASE("a unique_function keeps a mutable callable's state between calls", "[core][unique_function]") {
  unique_function<int()> counter = [n = 0]() mutable { return ++n; };
  CHECK(counter() == 1);
  CHECK(counter() == 2);
}

TEST_CASE("moving a unique_function keeps the callable's address", "[core][unique_function]") {
  const int* seen = nullptr;
  unique_function<const int*()> f = [v = 7]() { return &v; };
  seen = f();
  auto g = std::move(f);
  CHECK(g() == seen);
}

TEST_CASE("an empty std::function or null pointer makes an empty unique_function", "[core][unique_function]") {
  const unique_function<void()> a;
  CHECK_FALSE(a);
  const unique_function<void()> b = std::function<void()>{};
  CHECK_FALSE(b);
  void (*null)() = nullptr;
  const unique_function<void()> c = null;
  CHECK_FALSE(c);
  const unique_function<void()> d = nullptr;
  CHECK_FALSE(d);
  int calls = 0;
  const unique_function<void()> e = std::function<void()>{[&] { ++calls; }};
  REQUIRE(e);
  e();
  CHECK(calls == 1);
}

TEST_CASE("a unique_function destroys its callable once, on reset or destruction", "[core][unique_function]") {
  auto token = std::make_shared<int>(0);
  {
    unique_function<void()> f = [token] {};
    CHECK(token.use_count() == 2);
    auto g = std::move(f);
    CHECK(token.use_count() == 2);
    g = nullptr;
    CHECK(token.use_count() == 1);
    g = [token] {};
    CHECK(token.use_count() == 2);
  }
  CHECK(token.use_count() == 1);
}

TEST_CASE("a unique_function converts the result and forwards arguments", "[core][unique_function]") {
  unique_function<long(std::string&&)> f = [](std::string s) { return static_cast<int>(s.size()); };
  CHECK(f(std::string("abc")) == 3);
  unique_function<void(int&)> inc = [](int& x) { ++x; };
  int x = 1;
  inc(x);
  CHECK(x == 2);
  unique_function<void(int)> drops_result = [](int v) { return v * 2; };
  drops_result(3);
}
