// floor: the least CPU a load generator can spend per request on this
// machine at a fixed rate with even arrivals. It does nothing but what any
// generator must: wake when a request is due, write it on a kept-alive
// connection, wake when the answer is in, read it and find its end (the
// Content-Length). No histogram, no parsing beyond that, no allocation, no
// runtime: one thread, epoll and a timerfd. A journey of STEPS steps sends
// each next step on the same connection as soon as the answer before it is
// read, as a journey with captures must.
//
// The timer ticks every max(1/RATE, TICK_US) microseconds and each tick
// sends every request that is due by then: TICK_US defaults to 1000, the
// granularity Go's runtime gives a goroutine's sleep (its netpoller waits in
// whole milliseconds), so that the floor groups requests as a Go generator
// does; TICK_US=1 sends each request at its own time.
//
// Usage: floor HOST PORT RATE SECONDS STEPS
// Prints "REQUESTS n" (HTTP requests answered, every step counted) and
// "LATENCY_US mean" on standard output. Every loop is bounded by SECONDS
// (and one second more to drain the answers in flight).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CONNS 256
#define BUF 4096

struct conn {
  int fd;
  int busy;  // a request is in flight
  int step;  // which step of its journey
  int64_t sent;
  size_t have;
  char buf[BUF];
};

static struct conn conns[CONNS];
static int freelist[CONNS], nfree;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void send_req(struct conn *c, int step) {
  c->busy = 1;
  c->step = step;
  c->have = 0;
  c->sent = now_ns();
  if (write(c->fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) die("write");
}

// complete: the length of the whole answer in c->buf once it is all in, or 0.
static size_t complete(struct conn *c) {
  char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - c->buf) + 4, body = 0;
  char *cl = memmem(c->buf, head, "Content-Length:", 15);
  if (cl) body = strtoul(cl + 15, NULL, 10);
  return c->have >= head + body ? head + body : 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: floor HOST PORT RATE SECONDS STEPS\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]);
  int steps = atoi(argv[5]);
  const char *tick_env = getenv("TICK_US");
  int64_t tick_ns = (int64_t)((tick_env ? atof(tick_env) : 1000) * 1000);
  int64_t period_ns = (int64_t)(1e9 / rate);
  if (tick_ns < period_ns) tick_ns = period_ns;
  if (rate <= 0 || seconds <= 0 || steps < 1) {
    fprintf(stderr, "floor: RATE, SECONDS and STEPS must be positive\n");
    return 2;
  }

  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("inet_pton");
  // Connections are opened as needed, up to CONNS, and kept alive.
  int nconns = 0;

  int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  if (tfd < 0) die("timerfd_create");
  struct itimerspec its = {
      .it_interval = {tick_ns / 1000000000, tick_ns % 1000000000},
      .it_value = {tick_ns / 1000000000, tick_ns % 1000000000},
  };
  if (timerfd_settime(tfd, 0, &its, NULL) < 0) die("timerfd_settime");
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = CONNS};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) die("epoll_ctl timer");

  int64_t start = now_ns(), stop = start + (int64_t)(seconds * 1e9);
  int64_t journeys = 0, answered = 0, latency_sum = 0, dropped = 0;
  int64_t due_total = (int64_t)(seconds * rate);
  int ticking = 1;
  struct epoll_event evs[64];
  for (;;) {
    int64_t t = now_ns();
    if (!ticking && nfree == nconns) break;  // all answered
    if (t > stop + 1000000000) break;        // drain bound
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u32 == CONNS) {
        uint64_t ticks;
        if (read(tfd, &ticks, sizeof ticks) < 0) die("read timerfd");
        t = now_ns();
        if (!ticking) continue;
        int64_t due = (int64_t)((double)(t - start) * rate / 1e9);
        if (due > due_total) due = due_total;
        for (; journeys < due; journeys++) {
          if (nfree == 0) {
            if (nconns == CONNS) { dropped++; continue; }
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0) die("socket");
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) die("connect");
            // Wait for the connection (first use only).
            struct epoll_event w = {.events = EPOLLOUT, .data.u32 = (uint32_t)nconns};
            int wep = epoll_create1(0);
            epoll_ctl(wep, EPOLL_CTL_ADD, fd, &w);
            if (epoll_wait(wep, &w, 1, 1000) != 1) die("connect timeout");
            close(wep);
            conns[nconns].fd = fd;
            struct epoll_event r = {.events = EPOLLIN, .data.u32 = (uint32_t)nconns};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &r) < 0) die("epoll_ctl conn");
            freelist[nfree++] = nconns++;
          }
          send_req(&conns[freelist[--nfree]], 1);
        }
        if (t >= stop || journeys >= due_total) ticking = 0;
        continue;
      }
      struct conn *c = &conns[evs[i].data.u32];
      ssize_t got = read(c->fd, c->buf + c->have, BUF - c->have);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        die("read");
      }
      c->have += (size_t)got;
      if (!c->busy || !complete(c)) continue;
      answered++;
      latency_sum += now_ns() - c->sent;
      if (c->step < steps) {
        send_req(c, c->step + 1);
      } else {
        c->busy = 0;
        freelist[nfree++] = (int)evs[i].data.u32;
      }
    }
  }
  printf("REQUESTS %lld\n", (long long)answered);
  printf("LATENCY_US %.1f\n", answered ? (double)latency_sum / answered / 1000 : 0);
  if (dropped) printf("DROPPED %lld\n", (long long)dropped);
  return 0;
}
