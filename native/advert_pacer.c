// advert_pacer: a master's VRRP adverts sent from a thread of their own (N-API, C).
//
// A VRRP master must advertise every Advertisement_Interval; at 10 ms adverts the peer takes over
// after ~36 ms of silence. duet's FSM runs on Node's main thread, which also answers `duet status`,
// reloads and scrapes, and whose garbage collector can hold it for tens of milliseconds. keepalived
// keeps VRRP in a process of its own for the same reason. This addon keeps only the periodic send
// off that thread: JavaScript decides (master or not, which bytes, which interval), the thread
// sends the same IPv4 packets on time, and JavaScript renews a lease on each of its own advert
// ticks. If the main thread stops renewing it (stuck, not just slow) for longer than the lease,
// the thread stops sending and the peer takes over, as it would without the thread.
//
//   const h = open(ifname, leaseMs, policy, priority[, src6, freebind])   // policy 0: leave the scheduler alone
//   run(h, [packet, ...], [dst, ...], intervalMs)      // sends all now (throws on failure), then paces
//   feed(h)                                            // the lease: the master is alive
//   stop(h)                                            // no more sends until the next run
//   stats(h) -> { sent, errors, lastErrno, lapses, sinceLastSendMs, rtErrno }
//   close(h)                                           // joins the thread, closes the socket
//
// IPv4 (no src6): packets are whole IPv4 datagrams (the header built in JavaScript, id 0: the
// kernel picks one and fills in the checksum), sent on socket(AF_INET, SOCK_RAW, IPPROTO_RAW):
// header included and never receiving, so it holds no queue of other hosts' packets.
// IPv6 (src6 given, as vrrp6.c sends): packets are VRRP payloads (checksum computed in
// JavaScript), sent on socket(AF_INET6, SOCK_RAW, 112) with hop limit 255 and src6 as the source
// in an IPV6_PKTINFO control message; a drop-all socket filter keeps it from queueing the VRRP
// packets it would otherwise receive; freebind sets IPV6_FREEBIND (a still tentative link-local).
// SO_BINDTODEVICE pins either to the interface (its index: a recreated interface needs a new
// pacer); multicast loop off keeps our adverts from coming back to our own receiving socket.
// Sends are MSG_DONTWAIT: a full queue is an error counted, never a blocked thread.
//
// Timing: absolute CLOCK_MONOTONIC deadlines (pthread_cond_timedwait on a monotonic condition
// variable, so run/stop/feed/close wake the thread at once); a missed deadline (the thread itself
// was held) sends at once and counts the next from now. With `policy` (1 FIFO, 2 RR) the thread
// sets that real-time priority for itself (duet's realtime.vrrp_priority); the result is in rtErrno.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "send6.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define IPPROTO_VRRP 112
#define MAX_PACKETS 256
#define MAX_PACKET 1500

typedef struct {
  int fd;
  int closed;
  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int quit;
  int active;   /* pacing: sends while the lease holds */
  int n;        /* packets held (0: stopped) */
  uint8_t *pkt[MAX_PACKETS];
  size_t len[MAX_PACKETS];
  struct sockaddr_storage dst[MAX_PACKETS];
  socklen_t dst_len[MAX_PACKETS];
  int family;             /* AF_INET or AF_INET6 */
  unsigned ifindex;       /* IPv6: for link-local scopes and IPV6_PKTINFO */
  struct in6_addr src6;   /* IPv6: the source of every packet */
  uint64_t interval_ns, lease_ns, next_ns, lease_until_ns, last_sent_ns;
  uint64_t sent, errors, lapses;
  int last_errno;
  int rt_policy, rt_priority, rt_errno;
  napi_env env;
  int hook_added;
} pacer_t;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------- errors ---------- */

static void throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *name = uv_err_name(uv_translate_sys_error(err));
  napi_value c, t, e, v;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &c) != napi_ok) return;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &t) != napi_ok) return;
  if (napi_create_error(env, c, t, &e) != napi_ok) return;
  if (napi_create_int32(env, -err, &v) == napi_ok) napi_set_named_property(env, e, "errno", v);
  napi_throw(env, e);
}

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* ---------- the thread ---------- */

/* The lease covers at least two intervals: the main thread renews it once per interval. */
static uint64_t lease_for(const pacer_t *p) {
  return p->lease_ns > 2 * p->interval_ns ? p->lease_ns : 2 * p->interval_ns;
}

static void drop_packets(pacer_t *p) {
  for (int i = 0; i < p->n; i++) free(p->pkt[i]);
  p->n = 0;
}

/* Under the lock. Returns 0 or the first errno. */
static ssize_t send_one(pacer_t *p, int i) {
  if (p->family == AF_INET) return sendto(p->fd, p->pkt[i], p->len[i], MSG_DONTWAIT, (struct sockaddr *)&p->dst[i], p->dst_len[i]);
  return sendmsg6(p->fd, p->pkt[i], p->len[i], (struct sockaddr_in6 *)&p->dst[i], &p->src6, p->ifindex, MSG_DONTWAIT);
}

static int send_all(pacer_t *p, uint64_t now) {
  int first = 0;
  for (int i = 0; i < p->n; i++) {
    ssize_t r = send_one(p, i);
    if (r < 0) {
      p->errors++;
      p->last_errno = errno;
      if (!first) first = errno;
    } else {
      p->sent++;
      p->last_sent_ns = now;
    }
  }
  return first;
}

static void *pacer_main(void *arg) {
  pacer_t *p = arg;
  if (p->rt_policy == SCHED_FIFO || p->rt_policy == SCHED_RR) {
    struct sched_param sp = { .sched_priority = p->rt_priority };
    p->rt_errno = pthread_setschedparam(pthread_self(), p->rt_policy, &sp);
  }
  pthread_mutex_lock(&p->mu);
  while (!p->quit) {
    if (!p->active) {
      pthread_cond_wait(&p->cv, &p->mu);
      continue;
    }
    uint64_t now = mono_ns();
    if (now < p->next_ns) {
      struct timespec ts = { .tv_sec = (time_t)(p->next_ns / 1000000000ull), .tv_nsec = (long)(p->next_ns % 1000000000ull) };
      pthread_cond_timedwait(&p->cv, &p->mu, &ts);
      continue;
    }
    if (now > p->lease_until_ns) {
      /* The main thread has not renewed the lease: it is stuck, not slow. Stop until it does. */
      p->active = 0;
      p->lapses++;
      continue;
    }
    send_all(p, now);
    p->next_ns += p->interval_ns;
    if (p->next_ns <= now) p->next_ns = now + p->interval_ns;
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ---------- lifetime ---------- */

static void on_env_teardown(void *arg);

static void pacer_close(pacer_t *p) {
  if (p->closed) return;
  p->closed = 1;
  if (p->thread_started) {
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->thread_started = 0;
  }
  drop_packets(p);
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  if (p->hook_added) {
    p->hook_added = 0;
    napi_remove_env_cleanup_hook(p->env, on_env_teardown, p);
  }
}

static void on_env_teardown(void *arg) {
  pacer_t *p = arg;
  p->hook_added = 0; /* being run: do not remove it */
  pacer_close(p);
}

static void finalize(napi_env env, void *data, void *hint) {
  pacer_t *p = data;
  pacer_close(p);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

static pacer_t *get(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    type_error(env, "not a pacer handle");
    return NULL;
  }
  pacer_t *p = data;
  if (p->closed) {
    throw_errno(env, EBADF, "advert pacer is closed");
    return NULL;
  }
  return p;
}

/* ---------- JS functions ---------- */

/* The open pacer a one-argument call names (usage: the call, for the TypeError), or NULL with an exception pending. */
static pacer_t *only_arg(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    type_error(env, usage);
    return NULL;
  }
  return get(env, argv[0]);
}

static int setopt_int(int fd, int level, int opt, int v) { return setsockopt(fd, level, opt, &v, sizeof v); }

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return type_error(env, "open(ifname, leaseMs, policy, priority[, src6, freebind])");
  char ifname[IF_NAMESIZE + 1];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IF_NAMESIZE) return type_error(env, "ifname: 1-15 characters");
  double lease_ms;
  int32_t policy, priority;
  if (napi_get_value_double(env, argv[1], &lease_ms) != napi_ok || !(lease_ms > 0)) return type_error(env, "leaseMs: a positive number");
  if (napi_get_value_int32(env, argv[2], &policy) != napi_ok || napi_get_value_int32(env, argv[3], &priority) != napi_ok) return type_error(env, "policy, priority: integers");
  int family = AF_INET;
  struct in6_addr src6;
  bool freebind = false;
  memset(&src6, 0, sizeof src6);
  napi_valuetype t5 = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &t5);
  if (t5 == napi_string) {
    char text[INET6_ADDRSTRLEN + 1];
    size_t tl = 0;
    if (napi_get_value_string_utf8(env, argv[4], text, sizeof text, &tl) != napi_ok || inet_pton(AF_INET6, text, &src6) != 1) return type_error(env, "src6: an IPv6 address");
    family = AF_INET6;
    if (argc >= 6) napi_get_value_bool(env, argv[5], &freebind);
  }
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) { throw_errno(env, errno ? errno : ENODEV, ifname); return NULL; }

  int fd = family == AF_INET ? socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW) : socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_VRRP);
  if (fd < 0) { throw_errno(env, errno, family == AF_INET ? "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)" : "socket(AF_INET6, SOCK_RAW, 112)"); return NULL; }
  const char *failed = NULL;
  static struct sock_filter drop_all[] = { { BPF_RET | BPF_K, 0, 0, 0 } };
  struct sock_fprog prog = { .len = 1, .filter = drop_all };
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)len + 1) < 0) failed = "SO_BINDTODEVICE";
  else if (family == AF_INET) {
    if (setopt_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0) < 0) failed = "IP_MULTICAST_LOOP";
  } else if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) failed = "SO_ATTACH_FILTER";
  else if (setopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255) < 0) failed = "IPV6_MULTICAST_HOPS";
  else if (setopt_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255) < 0) failed = "IPV6_UNICAST_HOPS";
  else if (setopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0) < 0) failed = "IPV6_MULTICAST_LOOP";
  else if (setopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex) < 0) failed = "IPV6_MULTICAST_IF";
  else if (freebind && setopt_int(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1) < 0) failed = "IPV6_FREEBIND";
  if (failed) {
    int e = errno;
    close(fd);
    char what[64];
    snprintf(what, sizeof what, "%s %s", failed, ifname);
    throw_errno(env, e, what);
    return NULL;
  }

  pacer_t *p = calloc(1, sizeof *p);
  if (!p) { close(fd); throw_errno(env, ENOMEM, "advert pacer"); return NULL; }
  p->fd = fd;
  p->env = env;
  p->family = family;
  p->ifindex = ifindex;
  p->src6 = src6;
  p->lease_ns = (uint64_t)(lease_ms * 1e6);
  p->rt_policy = policy;
  p->rt_priority = priority;
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  int e = pthread_create(&p->thread, NULL, pacer_main, p);
  if (e) {
    close(fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    throw_errno(env, e, "pthread_create");
    return NULL;
  }
  p->thread_started = 1;
  napi_value ext;
  if (napi_create_external(env, p, finalize, NULL, &ext) != napi_ok) {
    pacer_close(p);
    free(p);
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, on_env_teardown, p) == napi_ok) p->hook_added = 1;
  return ext;
}

static napi_value js_run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return type_error(env, "run(h, packets, dsts, intervalMs)");
  pacer_t *p = get(env, argv[0]);
  if (!p) return NULL;
  uint32_t n = 0, nd = 0;
  bool is_arr = false;
  if (napi_is_array(env, argv[1], &is_arr) != napi_ok || !is_arr) return type_error(env, "packets: an array");
  if (napi_is_array(env, argv[2], &is_arr) != napi_ok || !is_arr) return type_error(env, "dsts: an array");
  napi_get_array_length(env, argv[1], &n);
  napi_get_array_length(env, argv[2], &nd);
  if (n == 0 || n != nd || n > MAX_PACKETS) return type_error(env, "packets and dsts: 1-256 of each, as many of one as of the other");
  double interval_ms;
  if (napi_get_value_double(env, argv[3], &interval_ms) != napi_ok || !(interval_ms >= 1)) return type_error(env, "intervalMs: at least 1");

  uint8_t *pkt[MAX_PACKETS];
  size_t plen[MAX_PACKETS];
  struct sockaddr_storage dst[MAX_PACKETS];
  socklen_t dlen[MAX_PACKETS];
  size_t min_len = p->family == AF_INET ? 20 : 8;
  for (uint32_t i = 0; i < n; i++) {
    napi_value b, d;
    napi_get_element(env, argv[1], i, &b);
    napi_get_element(env, argv[2], i, &d);
    void *data = NULL;
    size_t blen = 0;
    bool isbuf = false;
    napi_is_buffer(env, b, &isbuf);
    char addr[INET6_ADDRSTRLEN + 1];
    size_t alen = 0;
    memset(&dst[i], 0, sizeof dst[i]);
    int bad = !isbuf || napi_get_buffer_info(env, b, &data, &blen) != napi_ok || blen < min_len || blen > MAX_PACKET
      || napi_get_value_string_utf8(env, d, addr, sizeof addr, &alen) != napi_ok;
    if (!bad && p->family == AF_INET) {
      struct sockaddr_in *sa = (struct sockaddr_in *)&dst[i];
      sa->sin_family = AF_INET;
      bad = inet_pton(AF_INET, addr, &sa->sin_addr) != 1;
      dlen[i] = sizeof *sa;
    } else if (!bad) {
      struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&dst[i];
      sa->sin6_family = AF_INET6;
      bad = inet_pton(AF_INET6, addr, &sa->sin6_addr) != 1;
      scope6(sa, p->ifindex);
      dlen[i] = sizeof *sa;
    }
    if (!bad) {
      pkt[i] = malloc(blen);
      bad = !pkt[i];
      if (!bad) { memcpy(pkt[i], data, blen); plen[i] = blen; }
    }
    if (bad) {
      for (uint32_t j = 0; j < i; j++) free(pkt[j]);
      return type_error(env, p->family == AF_INET ? "each packet: a Buffer of 20-1500 bytes; each dst: an IPv4 address" : "each packet: a Buffer of 8-1500 bytes; each dst: an IPv6 address");
    }
  }
  pthread_mutex_lock(&p->mu);
  drop_packets(p);
  for (uint32_t i = 0; i < n; i++) { p->pkt[i] = pkt[i]; p->len[i] = plen[i]; p->dst[i] = dst[i]; p->dst_len[i] = dlen[i]; }
  p->n = (int)n;
  p->interval_ns = (uint64_t)(interval_ms * 1e6);
  uint64_t now = mono_ns();
  /* The first round now, from this thread: it follows whatever the caller did before (the VIP add). */
  int err = send_all(p, now);
  if (err) {
    drop_packets(p);
    p->active = 0;
  } else {
    p->active = 1;
    p->next_ns = now + p->interval_ns;
    p->lease_until_ns = now + lease_for(p);
    pthread_cond_signal(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  if (err) throw_errno(env, err, "sendto");
  return NULL;
}

static napi_value js_feed(napi_env env, napi_callback_info info) {
  pacer_t *p = only_arg(env, info, "feed(h)");
  if (!p) return NULL;
  pthread_mutex_lock(&p->mu);
  uint64_t now = mono_ns();
  p->lease_until_ns = now + lease_for(p);
  if (p->n > 0 && !p->active) {
    /* Back after a lapse: an advert now, then the interval. */
    p->active = 1;
    if (p->next_ns < now) p->next_ns = now;
    pthread_cond_signal(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  pacer_t *p = only_arg(env, info, "stop(h)");
  if (!p) return NULL;
  pthread_mutex_lock(&p->mu);
  p->active = 0;
  drop_packets(p);
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value x;
  if (napi_create_double(env, v, &x) == napi_ok) napi_set_named_property(env, o, k, x);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  pacer_t *p = only_arg(env, info, "stats(h)");
  if (!p) return NULL;
  pthread_mutex_lock(&p->mu);
  uint64_t now = mono_ns();
  double sent = (double)p->sent, errors = (double)p->errors, lapses = (double)p->lapses;
  double since = p->last_sent_ns ? (double)(now - p->last_sent_ns) / 1e6 : -1;
  int last = p->last_errno, rt = p->rt_errno;
  pthread_mutex_unlock(&p->mu);
  napi_value o;
  napi_create_object(env, &o);
  set_num(env, o, "sent", sent);
  set_num(env, o, "errors", errors);
  set_num(env, o, "lastErrno", last);
  set_num(env, o, "lapses", lapses);
  set_num(env, o, "sinceLastSendMs", since);
  set_num(env, o, "rtErrno", rt);
  return o;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return type_error(env, "close(h)");
  void *data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return type_error(env, "not a pacer handle");
  pacer_close(data);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "run", NULL, js_run, NULL, NULL, NULL, napi_default, NULL },
    { "feed", NULL, js_feed, NULL, NULL, NULL, napi_default, NULL },
    { "stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
