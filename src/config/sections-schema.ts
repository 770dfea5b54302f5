// The small top-level sections: node, log, lvs_timeouts and ipvs_sysctl (namespace-wide IPVS
// settings), control, hooks, metrics.

import { z } from 'zod';
import { expecting, intIn, seconds } from './blocks.js';
import { show } from './messages.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

export const nodeSchema = z
  .strictObject(
    {
      /** Defaults to the hostname; the daemon fills it in, so it stays undefined here. */
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
        error: (iss) => `must be a host name (1..64 characters of A-Z a-z 0-9 _ . -), got ${show(iss.input)}`,
      }).optional(),
      /**
       * Where the lock, the restart marker and the other state files live. Default: the control
       * socket's directory (/run/duet). Must be owned by root and writable by no one else.
       */
      state_dir: z.string().regex(/^\/[^\0]*$/, { error: (iss) => `must be an absolute path, got ${show(iss.input)}` }).optional(),
    },
    { error: expecting('a mapping {name, state_dir}') },
  )
  .default({});

export const logSchema = z
  .strictObject({
    level: z.enum(LOG_LEVELS).default('info'),
    /** json: one JSON line per event (for journald and log shippers); pretty: for a terminal. */
    format: z.enum(['json', 'pretty']).default('json'),
  }, { error: expecting('a mapping') })
  .prefault({});

/**
 * keepalived's `lvs_timeouts tcp T tcpfin T udp T` (ipvsadm --set): IPVS connection timeouts in
 * seconds, per network namespace. Omitted ones are left as the kernel has them.
 */
export const lvsTimeoutsSchema = z
  .strictObject(
    { tcp: intIn(1, 86400 * 365).optional(), tcpfin: intIn(1, 86400 * 365).optional(), udp: intIn(1, 86400 * 365).optional() },
    { error: expecting('a mapping with tcp, tcpfin and/or udp (seconds)') },
  )
  .optional();

/**
 * IPVS sysctls (/proc/sys/net/ipv4/vs/*) duet keeps set in its network namespace, as
 * `sysctl -w net.ipv4.vs.NAME=V` would; omitted ones are left as the kernel has them. keepalived
 * has no such setting (people set them in sysctl.conf); here they follow the config on reload.
 * sloppy_tcp/sloppy_sctp let a director create a connection from any packet, not only a SYN:
 * with the mh or sh scheduler on both nodes, a pair without sync keeps mid-stream connections
 * on the same real server after a failover.
 */
export const ipvsSysctlSchema = z
  .strictObject(
    {
      sloppy_tcp: z.boolean().optional(),
      sloppy_sctp: z.boolean().optional(),
      /** 0..3: 1 reschedules a reused port's connection (the kernel's default), 3 also for OPS/DR and TUN. */
      conn_reuse_mode: intIn(0, 3).optional(),
      /** Expire connections to a removed or 0-weight server at once instead of timing out. */
      expire_nodest_conn: z.boolean().optional(),
      expire_quiescent_template: z.boolean().optional(),
    },
    { error: expecting('a mapping of IPVS sysctls (sloppy_tcp, sloppy_sctp, conn_reuse_mode, expire_nodest_conn, expire_quiescent_template)') },
  )
  .optional();

/**
 * The control socket. The main socket (`duet run -s`) is root-only (0600): it changes things.
 * status_group opens a second, read-only socket (status and events only) to that group.
 * Both sockets close a connection idle for idle_timeout and take at most max_connections at once.
 */
export const controlSchema = z
  .strictObject(
    {
      status_group: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}\$?$/, { error: (iss) => `must be a group name, got ${show(iss.input)}` }).optional(),
      /** Default: duet-status.sock beside the main socket. */
      status_socket: z.string().regex(/^\//, { error: (iss) => `must be an absolute path, got ${show(iss.input)}` }).optional(),
      idle_timeout: seconds(0.1, 86400).default(60),
      max_connections: intIn(1, 4096).default(64),
    },
    { error: expecting('a mapping {status_group, status_socket, idle_timeout, max_connections}') },
  )
  .optional();

/**
 * Notify and quorum hooks: a hook still running after `timeout` seconds is killed with every
 * process it started (its process group), and the next hook of the same instance runs.
 */
export const hooksSchema = z
  .strictObject({ timeout: seconds(0.1, 3600).default(30) }, { error: expecting('a mapping {timeout}') })
  .prefault({});

/**
 * How duet runs programs (track scripts, notify and quorum hooks, exec checks), as keepalived's
 * enable_script_security and script_user. security (on by default): a program whose file or any
 * directory on its path a non-root user could change is refused, at load (a config error) and
 * before each run. user: run them as "user" or "user:group" instead of root. env: names of
 * duet's own environment variables passed through (besides PATH, LANG and the DUET_* ones).
 */
export const scriptsSchema = z
  .strictObject({
    security: z.boolean().default(true),
    user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?(:[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)?$/, {
      error: (iss) => `must be a user name or user:group, got ${show(iss.input)}`,
    }).optional(),
    env: z.array(z.string().regex(/^(?!DUET_)[A-Za-z_][A-Za-z0-9_]{0,127}$/, {
      error: (iss) => `must be an environment variable name (not DUET_*, those are duet's own), got ${show(iss.input)}`,
    }), { error: expecting('a list of environment variable names') }).default([]),
  }, { error: expecting('a mapping {security, user, env}') })
  .prefault({});

/**
 * Real-time scheduling and memory locking (keepalived: vrrp_rt_priority, checker_rt_priority,
 * vrrp_no_swap / checker_no_swap). vrrp_priority puts the daemon's main thread (adverts, timers)
 * under a real-time policy, check_priority the check worker thread; each applies to that one
 * thread only. Off by default. Read at start only.
 */
export const realtimeSchema = z
  .strictObject({
    vrrp_priority: intIn(1, 99).optional(),
    check_priority: intIn(1, 99).optional(),
    /** rr (keepalived's) or fifo. */
    policy: z.enum(['rr', 'fifo'], { error: (iss) => `must be rr or fifo, got ${show(iss.input)}` }).default('rr'),
    lock_memory: z.boolean().default(false),
    /** A master's IPv4 raw-socket adverts sent from a thread of their own (native/advert_pacer.c). */
    advert_thread: z.boolean().default(false),
    /** The advert thread stops when the main thread has not renewed its lease for this long (at least two advert intervals). */
    advert_lease_ms: intIn(10, 60_000).default(500),
  }, { error: expecting('a mapping {vrrp_priority, check_priority, policy, lock_memory, advert_thread, advert_lease_ms}') })
  .prefault({});

/**
 * Admission bounds of the check worker (check/admission.ts; HAProxy: tune.max-checks-per-thread):
 * past capacity, due checks wait in order instead of all starting at once. max_in_flight: checks
 * running at once (default: the open-file limit less a fifth, at least 512); starts_per_turn:
 * checks started per turn of the worker's loop (default 256). Read at start only.
 */
export const checkWorkerSchema = z
  .strictObject({
    max_in_flight: intIn(1, 10_000_000).optional(),
    starts_per_turn: intIn(1, 100_000).optional(),
  }, { error: expecting('a mapping {max_in_flight, starts_per_turn}') })
  .prefault({});

/** Prometheus endpoint; off unless `listen` is given. */
export const metricsSchema = z
  .strictObject(
    {
      /** "127.0.0.1:9469", "[::1]:9469", "0.0.0.0:9469", or ":9469" (= 127.0.0.1: no host, no exposure). */
      listen: z.string().transform((s, ctx) => {
        const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]*)):(\d{1,5})$/.exec(s);
        const port = m ? Number(m[3]) : NaN;
        if (!m || !(port >= 1 && port <= 65535)) {
          ctx.issues.push({ code: 'custom', message: `expected ADDRESS:PORT such as '127.0.0.1:9469', '[::1]:9469' or ':9469', got ${show(s)}`, input: s });
          return z.NEVER;
        }
        return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
      }),
      /** URL path of the endpoint. */
      path: z.string().regex(/^\/[^\s]*$/).default('/metrics'),
      /** One IPVS dump serves the scrapes of this many milliseconds (0: each scrape dumps). */
      ipvs_cache_ms: intIn(0, 60_000).default(1000),
    },
    { error: expecting('a mapping {listen: ADDRESS:PORT}') },
  )
  .optional();
