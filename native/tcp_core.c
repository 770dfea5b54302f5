// tcp_core: the connect step of TCP health checks without a net.Socket per check (N-API, C).
//
// A net.Socket costs a Duplex stream, a TCPWrap and a libuv handle per check, and most of a TCP
// check's user-space CPU in the check worker goes there. This core keeps one epoll set per
// environment (the check worker) and one uv_poll_t on its descriptor in that thread's event loop:
//
//   init(onBatch)                     onBatch(Int32Array [fd, err, status, ...]) per wakeup
//   connect(family, address, port, bindAddress|undefined, request?: Buffer)
//                                     -> fd >= 0 (in progress) or -errno
//   close(fd, reset)                  reset: SO_LINGER 0 (RST, no TIME_WAIT), else a plain close
//
// With a request (an HTTP/1.x request head, small enough for one send on a fresh socket), the
// connected socket sends it and reads the response head (up to HEAD_MAX bytes, to the blank
// line); the result is its status code, or err CLOSED (EOF before a whole head) or BAD (not an
// HTTP/1.x status line, or a head larger than HEAD_MAX). The body is not read.
//
// connect: socket(NONBLOCK|CLOEXEC), bind when asked, connect(); an immediate failure closes the
// socket and returns -errno; otherwise the fd joins the epoll set (EPOLLOUT, one-shot). When the
// set is readable, every ready fd is settled: EPOLLOUT alone means connected; with EPOLLERR or
// EPOLLHUP, SO_ERROR gives the errno. All of them go to onBatch in one call: err 0 connected, else
// an errno. The fd stays open until close(); its owner (JS) closes it after the verdict, on its
// timeout or on an abort. Syscalls per TCP check: socket, connect, epoll_ctl ADD, SO_LINGER,
// close (plus the shared epoll_wait). A one-shot fd is disabled once it reported, so it needs no
// EPOLL_CTL_DEL: close() takes it out of the set. The poll handle runs only while fds are in the
// set, so an idle core does not keep the loop alive. Timeouts and aborts are the caller's
// (checkers/probe.ts).
//
// Lifetime: the core lives until its environment is torn down; an async cleanup hook then stops
// the poll, closes the epoll fd and every fd still in the set, and is removed by the handle's
// close callback, so Node waits for it before unloading this library from a worker.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 256 /* epoll events per epoll_wait; the poll callback loops until fewer come back */
#define HEAD_MAX 16384 /* as Node's default max header size */
#define ERR_CLOSED (-1)
#define ERR_BAD (-2)

typedef struct {
  char *req;
  size_t req_len;
  int sent;      /* request sent: reading the head */
  size_t len;
  char buf[HEAD_MAX];
} http_t;

typedef struct {
  napi_env env;
  int epfd;
  int inflight;        /* fds in the epoll set */
  int polling;         /* uv_poll_start is in effect */
  int closed;          /* torn down */
  unsigned char *in;   /* in[fd]: 1 in the epoll set, 2 open and out of it (its verdict given), 0 not ours */
  http_t **http;       /* http[fd]: its HTTP exchange, if any (same length as in) */
  int in_len;
  napi_ref on_batch;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
} core_t;

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static core_t *get_core(napi_env env) {
  void *d = NULL;
  if (napi_get_instance_data(env, &d) != napi_ok) return NULL;
  return d;
}

static void on_handle_closed(uv_handle_t *h) {
  core_t *c = h->data;
  if (c->cleanup) napi_remove_async_cleanup_hook(c->cleanup);
  free(c->in);
  free(c->http);
  free(c);
}

static void teardown_hook(napi_async_cleanup_hook_handle h, void *arg) {
  (void)h;
  core_t *c = arg;
  c->closed = 1;
  /* Every fd still open, also those whose verdict JS had not closed yet (a terminated worker). */
  for (int fd = 0; fd < c->in_len; fd++) {
    if (c->in[fd]) close(fd);
    if (c->http[fd]) { free(c->http[fd]->req); free(c->http[fd]); }
  }
  uv_poll_stop(&c->poll);
  close(c->epfd);
  uv_close((uv_handle_t *)&c->poll, on_handle_closed);
}

/* Mark fd in or out of the set; grows the map. 0 ok, -1 out of memory. */
static int mark(core_t *c, int fd, unsigned char v) {
  if (fd >= c->in_len) {
    int n = c->in_len ? c->in_len : 1024;
    while (n <= fd) n *= 2;
    unsigned char *p = realloc(c->in, (size_t)n);
    if (!p) return -1;
    c->in = p;
    http_t **q = realloc(c->http, (size_t)n * sizeof *q);
    if (!q) return -1;
    c->http = q;
    memset(p + c->in_len, 0, (size_t)(n - c->in_len));
    memset(q + c->in_len, 0, (size_t)(n - c->in_len) * sizeof *q);
    c->in_len = n;
  }
  c->in[fd] = v;
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void update_poll(core_t *c) {
  if (c->inflight > 0 && !c->polling) {
    if (uv_poll_start(&c->poll, UV_READABLE, on_poll) == 0) c->polling = 1;
  } else if (c->inflight == 0 && c->polling) {
    uv_poll_stop(&c->poll);
    c->polling = 0;
  }
}

/* fd has its verdict: out of the in-flight count. del: still armed in the set (a one-shot fd that
 * reported is disabled already and leaves the set when it is closed). */
static void leave_set(core_t *c, int fd, int del) {
  if (del) epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
  c->in[fd] = 2;
  c->inflight--;
  if (c->http[fd]) {
    free(c->http[fd]->req);
    free(c->http[fd]);
    c->http[fd] = NULL;
  }
}

/* The status of a complete response head ("HTTP/1.x NNN ..."), or ERR_BAD. */
static int head_status(const char *b, size_t n) {
  if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0 || b[8] != ' ') return ERR_BAD;
  int st = 0;
  for (int i = 9; i < 12; i++) {
    if (b[i] < '0' || b[i] > '9') return ERR_BAD;
    st = st * 10 + (b[i] - '0');
  }
  if (st < 100 || (n > 12 && b[12] != ' ' && b[12] != '\r')) return ERR_BAD;
  return st;
}

/* Arm a one-shot fd again for `events`. 0: armed (keep waiting), 1: failed (*err set). */
static int rearm(core_t *c, int fd, uint32_t events, int *err) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events | EPOLLONESHOT;
  ev.data.fd = fd;
  if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) { *err = errno; return 1; }
  return 0;
}

/* One readiness event of an HTTP exchange. 1: done (*err, *status set), 0: keep waiting. */
static int http_step(core_t *c, int fd, http_t *h, int *err, int *status) {
  if (!h->sent) {
    ssize_t k = send(fd, h->req, h->req_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0) { *err = errno; return 1; }
    if ((size_t)k != h->req_len) { *err = ENOBUFS; return 1; }
    h->sent = 1;
    return rearm(c, fd, EPOLLIN | EPOLLRDHUP, err);
  }
  for (;;) {
    if (h->len == HEAD_MAX) { *err = ERR_BAD; return 1; }
    ssize_t k = recv(fd, h->buf + h->len, HEAD_MAX - h->len, MSG_DONTWAIT);
    if (k == 0) { *err = ERR_CLOSED; return 1; }
    if (k < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return rearm(c, fd, EPOLLIN | EPOLLRDHUP, err);
      if (errno == EINTR) continue;
      *err = errno;
      return 1;
    }
    size_t from = h->len > 3 ? h->len - 3 : 0;
    h->len += (size_t)k;
    /* Not the start of an HTTP/1.x status line: bad at once, as Node's parser says. */
    if (memcmp(h->buf, "HTTP/1.", h->len < 7 ? h->len : 7) != 0) { *err = ERR_BAD; return 1; }
    void *end = memmem(h->buf + from, h->len - from, "\r\n\r\n", 4);
    if (end) {
      int st = head_status(h->buf, (size_t)((char *)end - h->buf) + 2);
      if (st < 0) *err = st;
      else *status = st;
      return 1;
    }
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  core_t *c = h->data;
  if (c->closed) return;
  napi_env env = c->env;
  int32_t *out = NULL;
  size_t n = 0, cap = 0;
  struct epoll_event ev[BATCH];
  for (;;) {
    int k = epoll_wait(c->epfd, ev, BATCH, 0);
    if (k <= 0) break;
    if (n + 3 * (size_t)k > cap) {
      size_t ncap = cap ? cap * 2 : 3 * BATCH;
      while (ncap < n + 3 * (size_t)k) ncap *= 2;
      int32_t *p = realloc(out, ncap * sizeof *out);
      if (!p) break;
      out = p;
      cap = ncap;
    }
    for (int i = 0; i < k; i++) {
      int fd = ev[i].data.fd;
      int err = 0, status = 0;
      http_t *h = c->http[fd];
      /* The connect's outcome: EPOLLOUT alone is connected; a failed connect also has EPOLLERR. */
      if ((!h || !h->sent) && (ev[i].events & (EPOLLERR | EPOLLHUP))) {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err == 0) err = ECONNRESET;
      }
      if (err == 0 && h && !http_step(c, fd, h, &err, &status)) continue;
      leave_set(c, fd, 0);
      out[n++] = fd;
      out[n++] = err;
      out[n++] = status;
    }
    if (k < BATCH) break;
  }
  update_poll(c);
  if (n == 0) { free(out); return; }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) { free(out); return; }
  napi_value ab, arr, fn, global, result;
  void *data = NULL;
  if (napi_create_arraybuffer(env, n * sizeof *out, &data, &ab) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, n, ab, 0, &arr) == napi_ok &&
      napi_get_reference_value(env, c->on_batch, &fn) == napi_ok && fn &&
      napi_get_global(env, &global) == napi_ok) {
    memcpy(data, out, n * sizeof *out);
    if (napi_make_callback(env, c->async, global, fn, 1, &arr, &result) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value e;
        napi_get_and_clear_last_exception(env, &e);
        napi_fatal_exception(env, e);
      }
    }
  }
  napi_close_handle_scope(env, scope);
  free(out);
}

/* init(onBatch) */
static napi_value Init_core(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_code(env, "ERR_INVALID_ARG_TYPE", "init(onBatch): a function");
  if (get_core(env)) return throw_code(env, "ERR_INVALID_STATE", "tcp_core: init() already called in this thread");
  core_t *c = calloc(1, sizeof *c);
  if (!c) return throw_code(env, "ENOMEM", "tcp_core: out of memory");
  c->env = env;
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->epfd < 0) { free(c); return throw_code(env, "EIO", "tcp_core: epoll_create1 failed"); }
  uv_loop_t *loop;
  napi_value name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &c->poll, c->epfd) != 0) {
    close(c->epfd);
    free(c);
    return throw_code(env, "EIO", "tcp_core: uv_poll_init failed");
  }
  c->poll.data = c;
  if (napi_create_reference(env, argv[0], 1, &c->on_batch) != napi_ok ||
      napi_create_string_utf8(env, "TCP_CORE", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &c->async) != napi_ok ||
      napi_add_async_cleanup_hook(env, teardown_hook, c, &c->cleanup) != napi_ok ||
      napi_set_instance_data(env, c, NULL, NULL) != napi_ok) {
    /* Not reachable in practice; the handle must still close before c is freed. */
    c->cleanup = NULL;
    close(c->epfd);
    c->closed = 1;
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
    return throw_code(env, "EIO", "tcp_core: N-API call failed in init()");
  }
  return NULL;
}

/* Address text + port into a sockaddr of the family. 0 ok, else EINVAL. */
static int make_addr(int family, const char *text, int port, struct sockaddr_storage *sa, socklen_t *len) {
  memset(sa, 0, sizeof *sa);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)sa;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) return EINVAL;
    *len = sizeof *a;
    return 0;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) return EINVAL;
  *len = sizeof *a;
  return 0;
}

static napi_value int_value(napi_env env, int v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/* connect(family, address, port, bindAddress|undefined, request?) -> fd or -errno */
static napi_value Connect(napi_env env, napi_callback_info info) {
  core_t *c = get_core(env);
  if (!c || c->closed) return throw_code(env, "ERR_INVALID_STATE", "tcp_core: init() first");
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  int32_t family = 0, port = 0;
  void *req = NULL;
  size_t req_len = 0;
  bool is_buf = false;
  if (argc >= 5 && napi_is_buffer(env, argv[4], &is_buf) == napi_ok && is_buf) {
    if (napi_get_buffer_info(env, argv[4], &req, &req_len) != napi_ok) return NULL;
    if (req_len == 0 || req_len > 65536) return throw_code(env, "ERR_INVALID_ARG_VALUE", "connect: a request of 1..65536 bytes");
  }
  char addr[64], bind_addr[64];
  size_t l;
  napi_valuetype bt = napi_undefined;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &family) != napi_ok || napi_get_value_int32(env, argv[2], &port) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &l) != napi_ok || napi_typeof(env, argv[3], &bt) != napi_ok ||
      (family != 4 && family != 6) || port < 0 || port > 65535) {
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "connect(family 4|6, address, port, bindAddress|undefined)");
  }
  int has_bind = bt == napi_string;
  if (has_bind && napi_get_value_string_utf8(env, argv[3], bind_addr, sizeof bind_addr, &l) != napi_ok) return NULL;
  struct sockaddr_storage sa, ba;
  socklen_t sl = 0, bl = 0;
  if (make_addr(family, addr, port, &sa, &sl) || (has_bind && make_addr(family, bind_addr, 0, &ba, &bl))) return int_value(env, -EINVAL);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_value(env, -errno);
  /* Delayed ACK from the start, as HAProxy's checks do: an HTTP request carries the handshake's
   * last ACK; a TCP check's RST follows the SYN-ACK before any ACK, so the server's kernel drops
   * the half-open connection and its application never accepts it (fewer packets and no
   * accept/reset on either side). Best effort: without it the check works the same. */
  int zero = 0;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero);
  int err = 0;
  if (has_bind && bind(fd, (struct sockaddr *)&ba, bl) < 0) err = errno;
  else if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) err = errno;
  if (!err) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.fd = fd;
    http_t *h = NULL;
    if (req) {
      h = malloc(sizeof *h);
      if (h) { h->req = malloc(req_len); h->req_len = req_len; h->sent = 0; h->len = 0; }
      if (h && h->req) memcpy(h->req, req, req_len);
      else { if (h) free(h); h = NULL; err = ENOMEM; }
    }
    if (!err && mark(c, fd, 1) < 0) err = ENOMEM;
    else if (!err && epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) { err = errno; c->in[fd] = 0; }
    if (!err) c->http[fd] = h;
    else if (h) { free(h->req); free(h); }
  }
  if (err) {
    close(fd);
    return int_value(env, -err);
  }
  c->inflight++;
  update_poll(c);
  return int_value(env, fd);
}

/* close(fd, reset) */
static napi_value Close(napi_env env, napi_callback_info info) {
  core_t *c = get_core(env);
  if (!c || c->closed) return NULL;
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  bool reset = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_bool(env, argv[1], &reset) != napi_ok || fd < 0) {
    return throw_code(env, "ERR_INVALID_ARG_TYPE", "close(fd, reset)");
  }
  if (fd < c->in_len && c->in[fd] == 1) {
    leave_set(c, fd, 1);
    update_poll(c);
  }
  if (fd < c->in_len) c->in[fd] = 0;
  if (reset) {
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  close(fd);
  return NULL;
}

/* Fds in the epoll set (for tests: 0 once every check has ended). */
static napi_value Inflight(napi_env env, napi_callback_info info) {
  (void)info;
  core_t *c = get_core(env);
  return int_value(env, c ? c->inflight : 0);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "init", NULL, Init_core, NULL, NULL, NULL, napi_enumerable, NULL },
    { "connect", NULL, Connect, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "inflight", NULL, Inflight, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof d / sizeof d[0], d) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
