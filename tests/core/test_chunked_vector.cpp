#include "racket/detail/chunked_vector.hpp"

#include "catch.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

using racket::detail::chunked_vector;

TEST_CASE("chunked_vector: elements keep their address and index as it grows", "[chunked_vector]") {
  chunked_vector<std::string, 2> v;  // chunks of 4, so growth crosses many chunk boundaries
  CHECK(v.empty());
  std::vector<const std::string*> where;
  for (int i = 0; i < 1000; ++i) {
    std::string& s = v.emplace_back();
    CHECK(s.empty());  // value-initialised
    s = "subject." + std::to_string(i);
    where.push_back(&s);
  }
  REQUIRE(v.size() == 1000);
  for (std::size_t i = 0; i < v.size(); ++i) {
    CHECK(&v[i] == where[i]);  // never moved
    CHECK(v[i] == "subject." + std::to_string(i));
  }
  std::size_t n = 0;
  for (const std::string& s : v) CHECK(s == "subject." + std::to_string(n++));
  CHECK(n == 1000);
  const auto& cv = v;
  CHECK(cv[999] == "subject.999");
  v.clear();
  CHECK(v.empty());
  CHECK(v.begin() == v.end());
  v.emplace_back() = "again";
  CHECK(v.size() == 1);
  CHECK(v[0] == "again");
}

TEST_CASE("chunked_vector: destroys every element it made", "[chunked_vector]") {
  auto token = std::make_shared<int>(7);
  {
    chunked_vector<std::shared_ptr<int>, 3> v;
    for (int i = 0; i < 50; ++i) v.emplace_back() = token;
    CHECK(token.use_count() == 51);
    v.clear();
    CHECK(token.use_count() == 1);
    for (int i = 0; i < 9; ++i) v.emplace_back() = token;
    CHECK(token.use_count() == 10);
  }
  CHECK(token.use_count() == 1);  // the destructor released the rest
}
