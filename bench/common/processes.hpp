// SPDX-License-Identifier: MIT
#pragma once

// Forked children that report back: a child runs a body, writes one byte through a pipe when
// it is ready, then a block of doubles (its figures); the parent waits for each. Knows
// nothing of sockets, Racket or what the figures mean.

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace bench_common {

// The program's name in the messages below (a benchmark's main sets it).
inline const char* program_name = "bench";

inline constexpr std::size_t result_slots = 16;
using result = std::array<double, result_slots>;

struct child {
  pid_t pid = -1;
  int fd = -1;
};

inline child spawn(const std::function<result(const std::function<void()>& ready)>& body) {
  int p[2];
  if (::pipe(p) != 0) std::abort();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    ::close(p[0]);
    const int fd = p[1];
    auto ready = [fd] {
      const char c = 'R';
      if (::write(fd, &c, 1) != 1) ::_exit(3);
    };
    const result r = body(ready);
    if (::write(fd, r.data(), sizeof r) != static_cast<ssize_t>(sizeof r)) ::_exit(3);
    ::_exit(0);
  }
  ::close(p[1]);
  return {pid, p[0]};
}

inline bool read_all(int fd, void* out, std::size_t n) {
  auto* b = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t k = ::read(fd, b, n);
    if (k <= 0) return false;
    b += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

inline void wait_ready(const child& c) {
  char ch = 0;
  if (!read_all(c.fd, &ch, 1)) {
    std::fprintf(stderr, "%s: a child failed before it was ready\n", program_name);
    std::exit(1);
  }
}

inline result finish(const child& c) {
  result r{};
  const bool ok = read_all(c.fd, r.data(), sizeof r);
  ::close(c.fd);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  if (!ok) {
    std::fprintf(stderr, "%s: a child failed (status %d)\n", program_name, status);
    std::exit(1);
  }
  return r;
}

}  // namespace bench_common
