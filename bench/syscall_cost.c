// SPDX-License-Identifier: MIT
//
// A diagnostic for reading the latency rows, not part of the benchmark: what one system call
// costs on this machine, and what each page the code touches after it then costs (with page
// table isolation and no PCID, every system call flushes the user TLB). It sends nothing.
//
//   gcc -O2 -o /tmp/syscall_cost bench/syscall_cost.c && /tmp/syscall_cost
//
// Prints, for 0..64 distinct pages read after each getppid(), the best of five rounds of
// 100 000, in ns per system call and reads.
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(void) {
  const size_t size = (size_t)64 << 20;
  char* pages = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED) return 1;
  for (size_t i = 0; i < size; i += 4096) pages[i] = 1;
  static const int counts[] = {0, 8, 16, 32, 64};
  for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; ++k) {
    const int n = counts[k];
    volatile long sink = 0;
    long best = -1;
    for (int round = 0; round < 5; ++round) {
      const long t0 = now_ns();
      for (int it = 0; it < 100000; ++it) {
        syscall(SYS_getppid);
        // Pages 7919 apart (mod 16384): no two on one line of the page walk caches' reach.
        for (int p = 0; p < n; ++p) sink += pages[(size_t)((p * 7919) % 16384) * 4096];
      }
      const long per = (now_ns() - t0) / 100000;
      if (best < 0 || per < best) best = per;
    }
    printf("getppid + %2d pages read: %ld ns\n", n, best);
  }
  return 0;
}
