// SPDX-License-Identifier: MIT
//
// A diagnostic for the latency benchmark, not part of it: an LD_PRELOAD shim that times the
// stretches of one one-way trip in each process, from the system calls they lie between.
//
//   epoll->recv   epoll_wait returned .. recvmmsg entered   (the event loop's dispatch)
//   recvmmsg      the first recvmmsg after a wakeup, inside the kernel
//   recv->send    recvmmsg returned .. sendto entered      (the receiver's own code, then the
//                                                            sender's, up to the system call)
//   sendto        inside the kernel; on lo this includes the delivery to the receiving socket
//                 and the wake-up of its process
//   send->wait    sendto returned .. epoll_wait entered     (work after the send, off the trip)
//
// Every 60 000 wakeups a process prints the median of each stretch to stderr. A process that
// never calls epoll_wait (raw UDP with a blocking recv) prints nothing. The clock reads add
// ~35 ns to each stretch that has them at both ends.
//
//   gcc -O2 -shared -fPIC -o /tmp/syscall_gaps.so bench/syscall_gaps.c -ldl
//   unshare -n sh -c 'ip link set lo up &&
//     LD_PRELOAD=/tmp/syscall_gaps.so build/bench/bench/racket_bench --only latency'
//
// Like the benchmark itself, run it only inside a private network namespace.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { cap = 60000 };
enum { epoll_to_recv, in_recv, recv_to_send, in_send, send_to_wait, stretches };
static const char* const names[stretches] = {"epoll->recv", "recvmmsg", "recv->send", "sendto", "send->wait"};
static int samples[stretches][cap];
static int counts[stretches];
static long epoll_returned, recv_returned, send_returned;

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void note(int which, long from, long to) {
  if (from != 0 && counts[which] < cap) samples[which][counts[which]++] = (int)(to - from);
}

static int by_value(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

static void report(void) {
  fprintf(stderr, "[%d]", (int)getpid());
  for (int i = 0; i < stretches; ++i) {
    qsort(samples[i], (size_t)counts[i], sizeof(int), by_value);
    fprintf(stderr, " %s %d ns%s", names[i], counts[i] > 0 ? samples[i][counts[i] / 2] : -1,
            i + 1 < stretches ? " |" : "\n");
    counts[i] = 0;
  }
}

int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  static int (*real)(int, struct epoll_event*, int, int);
  if (real == NULL) *(void**)&real = dlsym(RTLD_NEXT, "epoll_wait");
  note(send_to_wait, send_returned, now_ns());
  send_returned = 0;
  const int n = real(epfd, events, max, timeout);
  epoll_returned = now_ns();
  return n;
}

int recvmmsg(int fd, struct mmsghdr* msgs, unsigned vlen, int flags, struct timespec* timeout) {
  static int (*real)(int, struct mmsghdr*, unsigned, int, struct timespec*);
  if (real == NULL) *(void**)&real = dlsym(RTLD_NEXT, "recvmmsg");
  const long entered = now_ns();
  const int first = epoll_returned != 0;
  note(epoll_to_recv, epoll_returned, entered);
  epoll_returned = 0;
  const int n = real(fd, msgs, vlen, flags, timeout);
  const long left = now_ns();
  if (n > 0) {
    if (first) note(in_recv, entered, left);
    recv_returned = left;
  }
  if (counts[epoll_to_recv] == cap) report();
  return n;
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* to, socklen_t to_len) {
  static ssize_t (*real)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);
  if (real == NULL) *(void**)&real = dlsym(RTLD_NEXT, "sendto");
  const long entered = now_ns();
  note(recv_to_send, recv_returned, entered);
  recv_returned = 0;
  const ssize_t n = real(fd, buf, len, flags, to, to_len);
  send_returned = now_ns();
  note(in_send, entered, send_returned);
  return n;
}
