// genl_batch: run many generic-netlink requests on one NETLINK_GENERIC socket off the event
// loop, for Node.js (N-API, C), and hand back each request's raw reply messages.
//
//   run(family, dump, payloads: Uint8Array[], timeoutMs, done(err, data: Buffer, ends: Uint32Array))
//
// Why: an IPVS dump is one GET_SERVICE dump plus one GET_DEST dump per service (the kernel has
// no "all destinations" dump), 1,001 requests for 1,000 services. Through npm `netlink` each
// request costs a JS round trip (message objects, promise, timer, a poll wake-up per reply),
// which dominates the dump; here the requests are plain syscalls on a thread-pool thread and JS
// sees one callback with all the bytes, which it decodes with its own codec.
//
// Each payload (genlmsghdr + attributes) gets an nlmsghdr: type `family`, flags NLM_F_REQUEST
// plus NLM_F_DUMP when `dump`, else NLM_F_ACK; seq 1, 2, ... Requests go one at a time (the
// kernel refuses a second dump on a socket while one runs), each answered by what the kernel
// sends for its seq:
//  - dump: the parts up to NLMSG_DONE (excluded), or an NLMSG_ERROR (included);
//  - otherwise: the reply messages and the NLMSG_ERROR ack, which is left out when a reply came
//    before it (as npm netlink's request() does), or an NLMSG_ERROR error (included).
// Messages are copied whole (nlmsghdr included, padded to 4 bytes) into `data`; request i's
// are data[ends[i-1] .. ends[i]) (ends[-1] = 0). Messages for another seq are skipped.
//
// The socket is opened in run() on the calling (main) thread, so it belongs to that thread's
// network namespace like every other socket of the process, and is closed when the batch ends.
// Errors (socket, send, receive, time-out) fail the whole batch: err is an Error with code
// 'E...' (errno name), errno (negative, as in Node), syscall, and `index`, the request it
// happened at. A time-out is ETIMEDOUT: no message for `timeoutMs` while waiting on a request.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECV_SIZE 65536 /* the kernel caps dump datagrams at 32 KiB: never truncates */

typedef struct {
  // input
  int fd;
  uint16_t family;
  int dump;
  uint32_t count;
  uint8_t **payloads; // copies, owned
  uint32_t *lens;
  int timeout_ms;
  // output
  uint8_t *data;
  size_t len, cap;
  uint32_t *ends;
  int err;             // errno, 0 on success
  const char *syscall; // of the error
  uint32_t err_index;
  // N-API
  napi_async_work work;
  napi_ref callback;
} batch_t;

static void batch_free(napi_env env, batch_t *b) {
  if (b->fd >= 0) close(b->fd);
  for (uint32_t i = 0; i < b->count; i++) free(b->payloads ? b->payloads[i] : NULL);
  free(b->payloads);
  free(b->lens);
  free(b->data);
  free(b->ends);
  if (b->callback) napi_delete_reference(env, b->callback);
  if (b->work) napi_delete_async_work(env, b->work);
  free(b);
}

static int append(batch_t *b, const uint8_t *p, uint32_t len) {
  size_t need = b->len + ((len + 3u) & ~3u);
  if (need > b->cap) {
    size_t cap = b->cap ? b->cap : 1u << 16;
    while (cap < need) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) return ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, len);
  memset(b->data + b->len + len, 0, need - b->len - len);
  b->len = need;
  return 0;
}

static int fail(batch_t *b, int err, const char *syscall, uint32_t index) {
  b->err = err;
  b->syscall = syscall;
  b->err_index = index;
  return -1;
}

static int send_one(batch_t *b, uint32_t i, uint32_t seq) {
  struct nlmsghdr h = {
    .nlmsg_len = NLMSG_HDRLEN + b->lens[i],
    .nlmsg_type = b->family,
    .nlmsg_flags = NLM_F_REQUEST | (b->dump ? NLM_F_DUMP : NLM_F_ACK),
    .nlmsg_seq = seq,
    .nlmsg_pid = 0,
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct iovec iov[2] = { { &h, NLMSG_HDRLEN }, { b->payloads[i], b->lens[i] } };
  struct msghdr m = { .msg_name = &kernel, .msg_namelen = sizeof kernel, .msg_iov = iov, .msg_iovlen = 2 };
  ssize_t n;
  do n = sendmsg(b->fd, &m, 0);
  while (n < 0 && errno == EINTR);
  return n < 0 ? fail(b, errno, "sendmsg", i) : 0;
}

/** Waits for and reads one datagram; its length, or -1 (b->err set). */
static ssize_t recv_one(batch_t *b, uint8_t *buf, uint32_t i) {
  for (;;) {
    ssize_t n = recv(b->fd, buf, RECV_SIZE, MSG_DONTWAIT | MSG_TRUNC);
    if (n > RECV_SIZE) return fail(b, EMSGSIZE, "recv", i);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(b, errno, "recv", i);
    struct pollfd p = { .fd = b->fd, .events = POLLIN };
    int r = poll(&p, 1, b->timeout_ms);
    if (r == 0) return fail(b, ETIMEDOUT, "poll", i);
    if (r < 0 && errno != EINTR) return fail(b, errno, "poll", i);
  }
}

/** Reads what answers request i (seq); 0 when complete, -1 on error. */
static int collect(batch_t *b, uint8_t *buf, uint32_t i, uint32_t seq) {
  int replied = 0;
  for (;;) {
    ssize_t n = recv_one(b, buf, i);
    if (n < 0) return -1;
    int ended = 0, left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue; // a late message of an earlier request, or not ours
      if (h->nlmsg_type == NLMSG_DONE && b->dump) {
        ended = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        int is_ack = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && e->error == 0;
        if (!(is_ack && replied)) {
          int err = append(b, (const uint8_t *)h, h->nlmsg_len);
          if (err) return fail(b, err, "malloc", i);
        }
        ended = 1;
        break;
      }
      int err = append(b, (const uint8_t *)h, h->nlmsg_len);
      if (err) return fail(b, err, "malloc", i);
      replied = 1;
    }
    if (ended) return 0;
  }
}

static void execute(napi_env env, void *data) {
  batch_t *b = data;
  uint8_t *buf = malloc(RECV_SIZE);
  if (!buf) {
    fail(b, ENOMEM, "malloc", 0);
    return;
  }
  for (uint32_t i = 0; i < b->count; i++) {
    uint32_t seq = i + 1;
    if (send_one(b, i, seq) < 0 || collect(b, buf, i, seq) < 0) break;
    b->ends[i] = (uint32_t)b->len;
  }
  free(buf);
}

static napi_value errno_error(napi_env env, int err, const char *syscall, uint32_t index) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s (%s, request %u)", syscall, strerror(err), uv_err_name(-err), index);
  napi_value code, text, e, v;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &e);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  napi_create_uint32(env, index, &v);
  napi_set_named_property(env, e, "index", v);
  return e;
}

static void complete(napi_env env, napi_status status, void *data) {
  batch_t *b = data;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, argv[3];
  napi_get_reference_value(env, b->callback, &cb);
  napi_get_global(env, &global);
  napi_get_undefined(env, &argv[1]);
  napi_get_undefined(env, &argv[2]);
  if (status != napi_ok) {
    napi_value text;
    napi_create_string_utf8(env, "genl_batch: the work was cancelled", NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, NULL, text, &argv[0]);
  } else if (b->err) {
    argv[0] = errno_error(env, b->err, b->syscall, b->err_index);
  } else {
    napi_get_null(env, &argv[0]);
    void *p;
    napi_value ab;
    napi_create_buffer_copy(env, b->len, b->len ? b->data : (const void *)"", &p, &argv[1]);
    napi_create_arraybuffer(env, b->count * sizeof(uint32_t), &p, &ab);
    if (b->count) memcpy(p, b->ends, b->count * sizeof(uint32_t));
    napi_create_typedarray(env, napi_uint32_array, b->count, ab, 0, &argv[2]);
  }
  batch_free(env, b); // closes the socket before JS sees the result
  napi_call_function(env, global, cb, 3, argv, NULL);
  napi_close_handle_scope(env, scope);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_type(env, "run(family, dump, payloads, timeoutMs, done)");
  uint32_t family, count;
  int32_t timeout;
  bool dump, is_array;
  napi_valuetype t;
  if (napi_get_value_uint32(env, argv[0], &family) != napi_ok || family > 0xffff) return throw_type(env, "family: a u16");
  if (napi_get_value_bool(env, argv[1], &dump) != napi_ok) return throw_type(env, "dump: a boolean");
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) return throw_type(env, "payloads: an array of Uint8Arrays");
  if (napi_get_value_int32(env, argv[3], &timeout) != napi_ok || timeout <= 0) return throw_type(env, "timeoutMs: a positive integer");
  if (napi_typeof(env, argv[4], &t) != napi_ok || t != napi_function) return throw_type(env, "done: a function");
  napi_get_array_length(env, argv[2], &count);

  batch_t *b = calloc(1, sizeof *b);
  if (!b) return throw_error(env, "genl_batch: out of memory");
  b->fd = -1;
  b->family = (uint16_t)family;
  b->dump = dump;
  b->timeout_ms = timeout;
  b->payloads = calloc(count ? count : 1, sizeof *b->payloads);
  b->lens = calloc(count ? count : 1, sizeof *b->lens);
  b->ends = calloc(count ? count : 1, sizeof *b->ends);
  if (!b->payloads || !b->lens || !b->ends) {
    batch_free(env, b);
    return throw_error(env, "genl_batch: out of memory");
  }
  b->count = count;
  // Copies: the worker thread must not touch JS memory.
  for (uint32_t i = 0; i < count; i++) {
    napi_value v, ab;
    void *p;
    size_t len, off;
    bool is_ta = false;
    napi_typedarray_type tt;
    napi_get_element(env, argv[2], i, &v);
    napi_is_typedarray(env, v, &is_ta);
    if (!is_ta || napi_get_typedarray_info(env, v, &tt, &len, &p, &ab, &off) != napi_ok || tt != napi_uint8_array ||
        len > 0xffff - NLMSG_HDRLEN) {
      batch_free(env, b);
      return throw_type(env, "payloads: an array of Uint8Arrays of at most 65519 bytes");
    }
    b->payloads[i] = malloc(len ? len : 1);
    if (!b->payloads[i]) {
      batch_free(env, b);
      return throw_error(env, "genl_batch: out of memory");
    }
    memcpy(b->payloads[i], p, len);
    b->lens[i] = (uint32_t)len;
  }
  b->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  struct sockaddr_nl local = { .nl_family = AF_NETLINK }; // nl_pid 0: the kernel picks a port
  if (b->fd < 0 || bind(b->fd, (struct sockaddr *)&local, sizeof local) < 0) {
    napi_value e = errno_error(env, errno, b->fd < 0 ? "socket" : "bind", 0);
    batch_free(env, b);
    napi_throw(env, e);
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "genl_batch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[4], 1, &b->callback) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    batch_free(env, b);
    return throw_error(env, "genl_batch: cannot queue the work");
  }
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "run", NAPI_AUTO_LENGTH, run, NULL, &fn);
  napi_set_named_property(env, exports, "run", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
