// vrrp6: a raw IPv6 socket for VRRP (IP protocol 112) on one interface, for Node.js (N-API, C).
//
// npm raw-socket has no recvmsg(), so an IPv6 receiver cannot see the hop limit (RFC 5798 §7.1:
// must be 255) nor the destination address. This addon does only that:
//
//   const s = new Socket({ ifname, srcAddress?, multicast, hopLimit?, freebind? },
//                        onMessage(payload, src, dst, ifindex, hopLimit), onError(err));
//   s.ifindex; s.send(buffer, dst); s.close();
//
// open: socket(AF_INET6, SOCK_RAW, 112), non-blocking; SO_BINDTODEVICE; IPV6_RECVHOPLIMIT and
// IPV6_RECVPKTINFO; hop limit (default 255) for multicast and unicast; no multicast loopback;
// IPV6_MULTICAST_IF; IPV6_MULTICAST_ALL 0; joins ff02::12 when multicast. An unbound raw IPv6
// socket still gets every group the host joined on the interface, so received multicast other
// than ff02::12 (any multicast when not `multicast`) is dropped here. srcAddress is put on every packet with an IPV6_PKTINFO control message, as keepalived
// does, not with bind(): a raw socket bound to an address receives only unicast addressed to it,
// and a VRRP peer may send to any of our addresses. At open a throwaway socket binds srcAddress
// once, so an address the kernel would refuse fails there (EADDRNOTAVAIL) and not at each send.
// freebind sets IPV6_FREEBIND (for a link-local address still tentative during DAD, which the
// kernel otherwise refuses as a source).
// Readability comes from a uv_poll_t on the Node event loop; every datagram is read with recvmsg
// (until EAGAIN, at most RECV_BATCH per wakeup: the poll is level-triggered) and copied into a
// new Buffer. Addresses are plain text without a zone; ifindex and hopLimit come from the
// control messages (0 / -1 when absent). Errors are thrown (or given to onError) as Error with
// code 'E...' (errno name), errno (negative, as in Node) and syscall.
//
// Lifetime: while open, the JS object is strongly referenced (it keeps receiving) and the poll
// handle keeps the event loop alive. close() stops the poll, closes the fd, drops the callbacks
// and the strong reference; it is idempotent, and no callback runs after it, even when called
// from inside onMessage. The C state is freed when both the handle's close callback and the JS
// finalizer have run. An async cleanup hook (napi_add_async_cleanup_hook), registered with the
// poll handle and removed only by the handle's close callback, closes a socket still open when
// the environment (main thread or worker) is torn down and makes Node wait for that callback:
// otherwise a worker could unload this library before libuv calls it.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "send6.h"

#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define IPPROTO_VRRP 112
#define RECV_SIZE 65536 /* a whole IPv6 payload (no jumbograms): never truncates */
#define RECV_BATCH 64   /* datagrams per wakeup before yielding to the loop */

static const struct in6_addr vrrp_group = { { { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12 } } };

typedef struct {
  napi_env env;
  int fd;
  unsigned ifindex;
  int closed;         /* close() or teardown has run: no more callbacks */
  int poll_inited;    /* uv_poll_init succeeded: the handle must be uv_close()d */
  int handle_closed;  /* the handle's close callback has run (or it never existed) */
  int wrapper_gone;   /* the JS finalizer has run */
  napi_async_cleanup_hook_handle cleanup; /* registered while the poll handle exists */
  int has_src;
  int freebind;
  int multicast;
  struct in6_addr src;
  char ifname[IF_NAMESIZE];
  uv_poll_t poll;
  napi_ref self;      /* strong while open */
  napi_ref on_message;
  napi_ref on_error;
  napi_async_context async;
  unsigned char *buf;
} sock_t;

/* ---------- errors ---------- */

static napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  char msg[512];
  const char *name = uv_err_name(uv_translate_sys_error(err));
  if (detail && *detail) snprintf(msg, sizeof msg, "%s %s: %s", syscall, detail, strerror(err));
  else snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, text, e, v;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok) return NULL;
  if (napi_create_error(env, code, text, &e) != napi_ok) return NULL;
  if (napi_create_int32(env, -err, &v) == napi_ok) napi_set_named_property(env, e, "errno", v);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, e, "syscall", v);
  return e;
}

static void throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  napi_value e = make_errno_error(env, err, syscall, detail);
  if (e) napi_throw(env, e);
  else napi_throw_error(env, "EIO", syscall);
}

/* Throws a TypeError; returns NULL so callers can `return type_error(...)`. */
static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* ---------- lifetime ---------- */

static void maybe_free(sock_t *s) {
  if (!s->handle_closed || !s->wrapper_gone) return;
  free(s->buf);
  free(s);
}

static void on_handle_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  if (s->cleanup) {
    /* Tells a teardown in progress that we are done (and unregisters the hook otherwise). */
    napi_remove_async_cleanup_hook(s->cleanup);
    s->cleanup = NULL;
  }
  s->handle_closed = 1;
  maybe_free(s);
}

/* Stop everything. with_js: also release the JS references (not during env teardown). */
static void sock_close(sock_t *s, int with_js) {
  if (s->closed) return;
  s->closed = 1;
  if (s->poll_inited) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  } else {
    s->handle_closed = 1;
  }
  if (s->fd >= 0) {
    close(s->fd); /* not retried on EINTR: on Linux the fd is released regardless */
    s->fd = -1;
  }
  if (!with_js) return;
  napi_env env = s->env;
  if (s->on_message) napi_delete_reference(env, s->on_message);
  if (s->on_error) napi_delete_reference(env, s->on_error);
  s->on_message = s->on_error = NULL;
  if (s->async) napi_async_destroy(env, s->async);
  s->async = NULL;
  if (s->self) {
    uint32_t n;
    napi_reference_unref(env, s->self, &n);
  }
}

/* Environment teardown: close if still open; the close callback removes the hook. */
static void teardown_hook(napi_async_cleanup_hook_handle h, void *arg) {
  (void)h;
  sock_close(arg, 0);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  sock_t *s = data;
  if (s->self) napi_delete_reference(env, s->self);
  s->self = NULL;
  sock_close(s, 0); /* normally already closed: the object is strongly held while open */
  s->wrapper_gone = 1;
  maybe_free(s);
}

/* ---------- receiving ---------- */

/* Call a JS callback from a libuv callback; an exception becomes an uncaught exception. */
static int call_js(sock_t *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, self, result;
  if (!fn_ref || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || !fn) return -1;
  if (napi_get_reference_value(env, s->self, &self) != napi_ok || !self) return -1;
  if (napi_make_callback(env, s->async, self, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
    return -1;
  }
  return 0;
}

static void report_error(sock_t *s, int err, const char *syscall) {
  napi_value e = make_errno_error(s->env, err, syscall, NULL);
  if (e) call_js(s, s->on_error, 1, &e);
}

/* One datagram: 1 delivered (or skipped), 0 queue empty, -1 stop. */
static int read_one(sock_t *s) {
  napi_env env = s->env;
  struct sockaddr_in6 from;
  union {
    struct cmsghdr align;
    unsigned char b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 64];
  } ctl;
  struct iovec iov = { .iov_base = s->buf, .iov_len = RECV_SIZE };
  struct msghdr mh;
  ssize_t n;
  do {
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    n = recvmsg(s->fd, &mh, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    report_error(s, errno, "recvmsg");
    return -1;
  }
  if (mh.msg_flags & MSG_TRUNC) return 1; /* cannot happen with a 64 KiB buffer; never deliver a cut packet */

  char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
  int hop = -1, have_dst = 0;
  unsigned ifindex = 0;
  struct in6_addr dst_addr;
  if (mh.msg_namelen >= sizeof(struct sockaddr_in6) && from.sin6_family == AF_INET6) {
    inet_ntop(AF_INET6, &from.sin6_addr, src, sizeof src);
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      memcpy(&hop, CMSG_DATA(c), sizeof hop);
    } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      inet_ntop(AF_INET6, &pi.ipi6_addr, dst, sizeof dst);
      dst_addr = pi.ipi6_addr;
      have_dst = 1;
      ifindex = pi.ipi6_ifindex;
    }
  }

  /* An unbound raw IPv6 socket gets every multicast the host receives on the interface, whatever
     IPV6_MULTICAST_ALL says: keep only ff02::12, and only when we joined it. */
  if (have_dst && IN6_IS_ADDR_MULTICAST(&dst_addr) && (!s->multicast || memcmp(&dst_addr, &vrrp_group, sizeof dst_addr) != 0)) {
    return 1;
  }

  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  napi_value argv[5];
  void *copy;
  int rc = -1;
  if (napi_create_buffer_copy(env, (size_t)n, s->buf, &copy, &argv[0]) == napi_ok &&
      napi_create_string_utf8(env, src, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok &&
      napi_create_string_utf8(env, dst, NAPI_AUTO_LENGTH, &argv[2]) == napi_ok &&
      napi_create_uint32(env, ifindex, &argv[3]) == napi_ok &&
      napi_create_int32(env, hop, &argv[4]) == napi_ok) {
    rc = call_js(s, s->on_message, 5, argv) == 0 ? 1 : -1;
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  sock_t *s = h->data;
  if (s->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (status < 0) {
    /* POLLERR: libuv stopped the handle. Fetch (and clear) the socket error, report it and
       poll again; without a socket error the descriptor itself is broken: report and stay stopped. */
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = 0;
    report_error(s, soerr ? soerr : -status, soerr ? "recvmsg" : "poll");
    if (soerr && !s->closed) uv_poll_start(&s->poll, UV_READABLE, on_poll);
  } else {
    for (int i = 0; i < RECV_BATCH && !s->closed; i++) {
      if (read_one(s) <= 0) break;
    }
  }
  napi_close_handle_scope(s->env, scope);
}

/* ---------- argument helpers ---------- */

/* Property `key` of obj as a string into out (size n). 1 ok, 0 absent/undefined, -1 thrown. */
static int get_string_prop(napi_env env, napi_value obj, const char *key, char *out, size_t n) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok) return -1;
  if (!has) return 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  size_t len = 0;
  if (t != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= n ||
      napi_get_value_string_utf8(env, v, out, n, &len) != napi_ok) {
    char m[128];
    snprintf(m, sizeof m, "option %s must be a string of at most %zu bytes", key, n - 1);
    type_error(env, m);
    return -1;
  }
  return 1;
}

static int get_bool_prop(napi_env env, napi_value obj, const char *key, bool *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_boolean) {
    char m[96];
    snprintf(m, sizeof m, "option %s must be a boolean", key);
    type_error(env, m);
    return -1;
  }
  return napi_get_value_bool(env, v, out) == napi_ok ? 1 : -1;
}

static int get_int_prop(napi_env env, napi_value obj, const char *key, int32_t *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_number) {
    char m[96];
    snprintf(m, sizeof m, "option %s must be a number", key);
    type_error(env, m);
    return -1;
  }
  return napi_get_value_int32(env, v, out) == napi_ok ? 1 : -1;
}

static int is_function(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_function;
}

/* ---------- Socket ---------- */

static int setopt_int(sock_t *s, napi_env env, int level, int opt, int value, const char *name) {
  if (setsockopt(s->fd, level, opt, &value, sizeof value) == 0) return 0;
  throw_errno(env, errno, "setsockopt", name);
  return -1;
}

/* Would the kernel accept src as our source on this interface? Asked by binding it on a
   throwaway socket with the same device and freebind setting: 0, or the errno of the refusal
   and the call that made it in *what. */
static int probe_source(const char *ifname, unsigned ifindex, const struct in6_addr *src, int freebind,
                        const char **what) {
  *what = "socket";
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_VRRP);
  if (fd < 0) return errno;
  int one = 1, err = 0;
  *what = "bind";
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = *src;
  if (IN6_IS_ADDR_LINKLOCAL(src)) sa.sin6_scope_id = ifindex;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
    err = errno, *what = "setsockopt SO_BINDTODEVICE";
  } else if (freebind && setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one) < 0) {
    err = errno, *what = "setsockopt IPV6_FREEBIND";
  } else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    err = errno;
  }
  close(fd);
  return err;
}

static napi_value Socket_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, target;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) return type_error(env, "Socket must be called with new");
  napi_valuetype t = napi_undefined;
  if (argc < 3 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object || !is_function(env, argv[1]) ||
      !is_function(env, argv[2])) {
    return type_error(env, "new Socket(options, onMessage, onError)");
  }

  char ifname[IF_NAMESIZE], srctext[INET6_ADDRSTRLEN];
  bool multicast = false, freebind = false;
  int32_t hop_limit = 255;
  int r = get_string_prop(env, argv[0], "ifname", ifname, sizeof ifname);
  if (r < 0) return NULL;
  if (r == 0 || !ifname[0]) return type_error(env, "option ifname is required");
  int has_src = get_string_prop(env, argv[0], "srcAddress", srctext, sizeof srctext);
  if (has_src < 0 || get_bool_prop(env, argv[0], "multicast", &multicast) < 0 ||
      get_bool_prop(env, argv[0], "freebind", &freebind) < 0 || get_int_prop(env, argv[0], "hopLimit", &hop_limit) < 0) {
    return NULL;
  }
  if (hop_limit < 1 || hop_limit > 255) return type_error(env, "option hopLimit must be 1..255");
  struct in6_addr src;
  if (has_src && inet_pton(AF_INET6, srctext, &src) != 1) return type_error(env, "option srcAddress is not an IPv6 address");

  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) {
    throw_errno(env, errno, "if_nametoindex", ifname);
    return NULL;
  }

  sock_t *s = calloc(1, sizeof *s);
  if (s) s->buf = malloc(RECV_SIZE);
  if (!s || !s->buf) {
    if (s) free(s);
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  s->env = env;
  s->ifindex = ifindex;
  s->freebind = freebind;
  s->multicast = multicast;
  memcpy(s->ifname, ifname, sizeof s->ifname);
  s->handle_closed = 1; /* no handle yet */
  s->fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_VRRP);
  if (s->fd < 0) {
    throw_errno(env, errno, "socket", "AF_INET6 SOCK_RAW 112");
    goto fail;
  }
  if (setsockopt(s->fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
    throw_errno(env, errno, "setsockopt SO_BINDTODEVICE", ifname);
    goto fail;
  }
  if (setopt_int(s, env, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT") ||
      setopt_int(s, env, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO") ||
      setopt_int(s, env, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hop_limit, "IPV6_MULTICAST_HOPS") ||
      setopt_int(s, env, IPPROTO_IPV6, IPV6_UNICAST_HOPS, hop_limit, "IPV6_UNICAST_HOPS") ||
      setopt_int(s, env, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP") ||
      setopt_int(s, env, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex, "IPV6_MULTICAST_IF") ||
      /* only groups this socket joined (else also those any socket joined on the interface) */
      setopt_int(s, env, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL")) {
    goto fail;
  }
  if (multicast) {
    struct ipv6_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.ipv6mr_multiaddr = vrrp_group;
    mr.ipv6mr_interface = ifindex;
    if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
      throw_errno(env, errno, "setsockopt IPV6_ADD_MEMBERSHIP", "ff02::12");
      goto fail;
    }
  }
  if (freebind && setopt_int(s, env, IPPROTO_IPV6, IPV6_FREEBIND, 1, "IPV6_FREEBIND")) goto fail;
  if (has_src) {
    const char *what;
    int perr = probe_source(ifname, ifindex, &src, freebind, &what);
    if (perr) {
      throw_errno(env, perr, what, srctext);
      goto fail;
    }
    s->has_src = 1;
    s->src = src;
  }
  /* Datagrams queued before SO_BINDTODEVICE / the cmsg options may be from any interface and
     lack hop limit and destination: discard whatever is queued now. */
  for (int i = 0; i < 1024; i++) {
    ssize_t n = recv(s->fd, s->buf, RECV_SIZE, MSG_DONTWAIT);
    if (n < 0 && errno != EINTR) break;
  }

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) goto fail;
  int uerr = uv_poll_init(loop, &s->poll, s->fd);
  if (uerr < 0) {
    throw_errno(env, -uerr, "uv_poll_init", NULL);
    goto fail;
  }
  s->poll.data = s;
  s->poll_inited = 1;
  s->handle_closed = 0;
  if (napi_add_async_cleanup_hook(env, teardown_hook, s, &s->cleanup) != napi_ok) {
    s->cleanup = NULL;
    goto fail;
  }

  napi_value name;
  if (napi_create_reference(env, argv[1], 1, &s->on_message) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &s->on_error) != napi_ok ||
      napi_create_string_utf8(env, "VRRP6", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &s->async) != napi_ok) {
    goto fail;
  }
  if (napi_wrap(env, self, s, finalize, NULL, &s->self) != napi_ok) goto fail;
  /* From here the finalizer owns s. */
  napi_reference_ref(env, s->self, NULL);
  napi_value v;
  if (napi_create_uint32(env, ifindex, &v) == napi_ok) {
    napi_property_descriptor d = { "ifindex", NULL, NULL, NULL, NULL, v, napi_enumerable, NULL };
    napi_define_properties(env, self, 1, &d);
  }
  uerr = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (uerr < 0) {
    sock_close(s, 1);
    throw_errno(env, -uerr, "uv_poll_start", NULL);
    return NULL;
  }
  return self;

fail:
  /* Not wrapped: free here (after the handle, if any, has closed). */
  {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "EIO", "vrrp6: N-API call failed while opening the socket");
  }
  if (s->on_message) napi_delete_reference(env, s->on_message);
  if (s->on_error) napi_delete_reference(env, s->on_error);
  s->on_message = s->on_error = NULL;
  if (s->async) napi_async_destroy(env, s->async);
  s->async = NULL;
  s->wrapper_gone = 1;
  sock_close(s, 0);
  maybe_free(s);
  return NULL;
}

static sock_t *unwrap(napi_env env, napi_value self) {
  void *p = NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    type_error(env, "not a vrrp6 Socket");
    return NULL;
  }
  return p;
}

/* send(buffer: Uint8Array, dst: string): undefined; throws Error{code} on failure. */
static napi_value Socket_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  sock_t *s = unwrap(env, self);
  if (!s) return NULL;
  if (s->closed) {
    throw_errno(env, EBADF, "sendmsg", "(socket closed)");
    return NULL;
  }
  bool is_ta = false;
  void *data = NULL;
  size_t len = 0;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta) {
    return type_error(env, "send(buffer: Uint8Array, dst: string)");
  }
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[0], &tt, &len, &data, &ab, &off) != napi_ok) return NULL;
  if (tt != napi_uint8_array && tt != napi_uint8_clamped_array && tt != napi_int8_array) {
    return type_error(env, "send: buffer must be a Uint8Array");
  }
  char dsttext[INET6_ADDRSTRLEN];
  size_t dl = 0;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, argv[1], NULL, 0, &dl) != napi_ok || dl >= sizeof dsttext ||
      napi_get_value_string_utf8(env, argv[1], dsttext, sizeof dsttext, &dl) != napi_ok) {
    return type_error(env, "send: dst must be an IPv6 address string");
  }
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  if (inet_pton(AF_INET6, dsttext, &sa.sin6_addr) != 1) return type_error(env, "send: dst is not an IPv6 address");
  scope6(&sa, s->ifindex);
  ssize_t n;
  do {
    n = sendmsg6(s->fd, data, len, &sa, s->has_src ? &s->src : NULL, s->ifindex, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    const char *what = "sendmsg";
    char detail[2 * INET6_ADDRSTRLEN + 32];
    char srctext[INET6_ADDRSTRLEN] = "";
    if (s->has_src) inet_ntop(AF_INET6, &s->src, srctext, sizeof srctext);
    if (s->has_src) snprintf(detail, sizeof detail, "%s from %s", dsttext, srctext);
    else snprintf(detail, sizeof detail, "%s", dsttext);
    /* The kernel says EINVAL when the IPV6_PKTINFO source is not (or no longer) ours, e.g. a
       link-local address gone with the link: ask why, and report that instead. */
    if (e == EINVAL && s->has_src) {
      const char *pw;
      int pe = probe_source(s->ifname, s->ifindex, &s->src, s->freebind, &pw);
      if (pe) {
        e = pe;
        snprintf(detail, sizeof detail, "%s: source %s not usable", dsttext, srctext);
      }
    }
    throw_errno(env, e, what, detail);
    return NULL;
  }
  return NULL; /* undefined */
}

static napi_value Socket_close(napi_env env, napi_callback_info info) {
  napi_value self;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  sock_t *s = unwrap(env, self);
  if (s) sock_close(s, 1);
  return NULL;
}

/* Read the datagrams already waiting, now (at most RECV_BATCH), delivering each to onMessage as
   the poll callback would; returns how many were read. For a caller that is about to act on a
   timer which ran out during a slow turn: the poll phase would read them only after the timers. */
static napi_value Socket_drain(napi_env env, napi_callback_info info) {
  napi_value self, out;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  sock_t *s = unwrap(env, self);
  int n = 0;
  while (s && !s->closed && n < RECV_BATCH && read_one(s) > 0) n++;
  if (napi_create_int32(env, n, &out) != napi_ok) return NULL;
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "send", NULL, Socket_send, NULL, NULL, NULL, napi_default_method, NULL },
    { "close", NULL, Socket_close, NULL, NULL, NULL, napi_default_method, NULL },
    { "drain", NULL, Socket_drain, NULL, NULL, NULL, napi_default_method, NULL },
  };
  napi_value cls;
  if (napi_define_class(env, "Socket", NAPI_AUTO_LENGTH, Socket_new, NULL, 3, methods, &cls) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "Socket", cls) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
