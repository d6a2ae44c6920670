// Helpers of timeline.mjs, built by it with `cc -O2`:
//
//   timeline client PORT SECONDS BODY_FILE API_KEY OUT_FILE
//     One keep-alive connection sending the chat request of chat.lua (the last message gets a new ticket
//     number each time, x-user-id is one of 64 users) back to back, for SECONDS or 2,000,000 requests.
//     Writes one line per request to OUT_FILE: its start on CLOCK_MONOTONIC and its latency, in
//     nanoseconds. Exits non-zero on a connection error or a status other than 200.
//
//   timeline spin SECONDS
//     Keeps one CPU busy in user mode (no memory traffic to speak of) for SECONDS.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int spin(double seconds) {
  const long long end = now_ns() + (long long)(seconds * 1e9);
  volatile unsigned long x = 1;
  while (now_ns() < end) {
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005UL + 1;
  }
  return 0;
}

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int client(int port, double seconds, const char* body_file, const char* key, const char* out_file) {
  static char body[16384], msg[16384], req[20480], buf[65536];
  FILE* f = fopen(body_file, "rb");
  if (!f) return perror(body_file), 1;
  size_t len = fread(body, 1, sizeof body - 1, f);
  fclose(f);
  while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' ' || body[len - 1] == '\r')) len--;
  body[len] = 0;
  const char* last = NULL;  // the last message's content, where chat.lua puts the ticket number
  for (const char* p = body; (p = strstr(p, "\"content\":\"")) != NULL; p++) last = p;
  if (!last) return fprintf(stderr, "%s: no \"content\":\"\n", body_file), 1;
  const int cut = (int)(last - body) + 11;

  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr*)&a, sizeof a) != 0) return perror("connect"), 1;

  const size_t cap = 2000000;
  long long* start = malloc(cap * sizeof *start);
  long long* took = malloc(cap * sizeof *took);
  if (!start || !took) return fprintf(stderr, "out of memory\n"), 1;
  size_t n = 0;
  const long long end = now_ns() + (long long)(seconds * 1e9);
  while (n < cap && now_ns() < end) {
    const int ml =
        snprintf(msg, sizeof msg, "%.*sTicket BILL-%09zu. %s", cut, body, 100000000 + n, body + cut);
    const int rl = snprintf(req, sizeof req,
                            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                            "Content-Type: application/json\r\nAccept: application/json\r\n"
                            "User-Agent: spillway-bench/1 (timeline)\r\napi-key: %s\r\n"
                            "x-user-id: %zu.alice@example.com\r\nContent-Length: %d\r\n\r\n%s",
                            port, key, n % 64, ml, msg);
    if (ml <= 0 || rl <= 0 || (size_t)rl >= sizeof req) return fprintf(stderr, "request too large\n"), 1;
    const long long t0 = now_ns();
    if (write_all(s, req, (size_t)rl) != 0) return perror("write"), 1;
    size_t got = 0, head = 0;
    long body_len = -1;
    for (;;) {
      if (got >= sizeof buf - 1) return fprintf(stderr, "response larger than %zu bytes\n", sizeof buf), 1;
      ssize_t r = read(s, buf + got, sizeof buf - 1 - got);
      if (r <= 0) return fprintf(stderr, "read: connection closed or failed\n"), 1;
      got += (size_t)r;
      buf[got] = 0;
      if (head == 0) {
        const char* h = strstr(buf, "\r\n\r\n");
        if (!h) continue;
        head = (size_t)(h - buf) + 4;
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0) return fprintf(stderr, "status: %.60s\n", buf), 1;
        const char* cl = strcasestr(buf, "\r\ncontent-length:");
        if (!cl || cl > h) return fprintf(stderr, "response without content-length\n"), 1;
        body_len = atol(cl + 17);
      }
      if (got >= head + (size_t)body_len) break;
    }
    start[n] = t0;
    took[n] = now_ns() - t0;
    n++;
  }
  FILE* o = fopen(out_file, "w");
  if (!o) return perror(out_file), 1;
  for (size_t i = 0; i < n; i++) fprintf(o, "%lld %lld\n", start[i], took[i]);
  fclose(o);
  printf("%zu\n", n);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "spin") == 0) return spin(atof(argv[2]));
  if (argc == 7 && strcmp(argv[1], "client") == 0)
    return client(atoi(argv[2]), atof(argv[3]), argv[4], argv[5], argv[6]);
  fprintf(stderr, "usage: timeline client PORT SECONDS BODY_FILE API_KEY OUT_FILE | timeline spin SECONDS\n");
  return 2;
}
