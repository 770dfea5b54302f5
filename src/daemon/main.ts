// `duet run`: load the config, start the daemon on the real platform, serve the control socket,
// reload on SIGHUP (an invalid file changes nothing), stop cleanly on SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig, formatIssue } from '../config/load.js';
import { loadConfigOffThread } from '../config/load-worker.js';
import { realClock } from '../core/clock.js';
import { DuetError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { blockingDir, groupId, listenControl, type ControlLimits, type DropReason } from '../control/server.js';
import { errorReply, type Reply, type Request } from '../control/protocol.js';
import type { Server as NetServer } from 'node:net';
import type { Server } from 'node:http';
import type { Config } from '../config/schema.js';
import type { DuetMetrics } from '../metrics/metrics.js';
import { serveMetrics } from '../metrics/server.js';
import { Daemon, OperatorError } from './daemon.js';
import { createNotifier, watchdogMs, type Notifier } from '../systemd/notify.js';
import type { Logger } from '../core/log.js';
import { createLinuxPlatform } from './linux-platform.js';
import { installCrashPolicy, EXIT_FATAL } from './crash.js';
import { killChildGroups } from './child.js';
import { lockStateDir } from './lock.js';
import { lockMemory, setThreadRealtime } from '../core/realtime.js';
import { stateDirProblem } from './state-files.js';
import { realScriptHost } from '../core/script-run.js';

export async function runDaemon(o: { configFile: string; socket: string; pretty?: boolean }): Promise<number> {
  const first = await loadConfig(o.configFile, { scriptHost: realScriptHost });
  if (!first.ok) {
    for (const i of first.error) console.error(formatIssue(i));
    return 2;
  }
  const cfg = first.value;
  cfg.node.name ??= hostname();
  const log = createLogger({ level: cfg.log.level, name: cfg.node.name, pretty: o.pretty ?? cfg.log.format === 'pretty' });
  // One daemon per state directory, and only in a directory no one else can write to: refused
  // before anything is touched (no VIP, no socket, no state file).
  const stateDir = cfg.node.stateDir ?? dirname(o.socket);
  const unsafe = stateDirProblem(stateDir);
  if (unsafe) {
    log.fatal({ dir: stateDir, problem: unsafe }, 'state directory unsafe; not starting');
    console.error(`duet: state directory ${unsafe}; not starting (node.state_dir must be owned by root and writable by no one else)`);
    return flushed(log, EXIT_START_FAILED);
  }
  const lock = lockStateDir(stateDir);
  if (!lock.ok) {
    const why = lock.error ?? `another duet${lock.holder ? ` (pid ${lock.holder})` : ''} is running with this state directory`;
    log.fatal({ lock: lock.file, holder: lock.holder, err: lock.error }, 'cannot take the state directory lock; not starting');
    console.error(`duet: ${lock.file}: ${why}; not starting [DUET_E_RUNNING]`);
    return flushed(log, EXIT_START_FAILED);
  }
  const platform = await createLinuxPlatform(log, { stateDir, checkAdmission: cfg.checkWorker, ...(cfg.realtime.check ? { checkRealtime: cfg.realtime.check } : {}) });
  startRealtime(cfg.realtime, log);
  const daemon = new Daemon(cfg, platform, realClock, log);
  const startedAt = realClock.now();

  // Reloads are queued so two SIGHUPs never interleave their diff-apply.
  let reloading: Promise<Reply> = Promise.resolve({ ok: true, result: null });
  const reload = (): Promise<Reply> => {
    // A failed reload must not poison the queue: the next one runs on its own.
    reloading = reloading.catch(() => undefined).then(async (): Promise<Reply> => {
      sd?.send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
      try {
        return await reloadOnce();
      } finally {
        sd?.send(`READY=1\nSTATUS=${statusLine(daemon)}`);
      }
    });
    return reloading;
  };
  const reloadOnce = async (): Promise<Reply> => {
    const t0 = realClock.now();
    // Parsed on a worker thread: VRRP keeps advertising while a large file is read.
    const r = await loadConfigOffThread(o.configFile, { checkScripts: true });
    const parseMs = Math.round(realClock.now() - t0);
    if (!r.ok) {
      const lines = r.error.map(formatIssue);
      log.error({ file: o.configFile, issues: lines, parseMs }, 'reload rejected: config invalid, running state unchanged');
      return errorReply('DUET_E_CONFIG', `${o.configFile} is invalid; nothing changed`, lines);
    }
    r.value.node.name ??= cfg.node.name;
    if ((r.value.node.stateDir ?? dirname(o.socket)) !== stateDir) log.warn({ stateDir, configured: r.value.node.stateDir }, 'node.state_dir changes take effect at the next start');
    if (JSON.stringify(r.value.realtime) !== JSON.stringify(cfg.realtime)) log.warn({ running: cfg.realtime, configured: r.value.realtime }, 'realtime changes take effect at the next start');
    if (JSON.stringify(r.value.checkWorker) !== JSON.stringify(cfg.checkWorker)) log.warn({ running: cfg.checkWorker, configured: r.value.checkWorker }, 'check_worker changes take effect at the next start');
    let result;
    try {
      result = await daemon.reload(r.value);
    } catch (e) {
      if (!(e instanceof DuetError)) throw e;
      log.error({ file: o.configFile, err: e.message, code: e.code }, 'reload rejected, running state unchanged');
      return errorReply(e.code, e.message);
    }
    const applyMs = Math.round(realClock.now() - t0) - parseMs;
    log.info({ parseMs, applyMs }, 'reload timing');
    return { ok: true, result: { ...result, parseMs, applyMs } };
  };
  let sd: ReturnType<typeof systemd> | undefined;

  /** Operator commands: refusals and failures become error replies with their code. */
  const operator = async (fn: () => Promise<unknown>): Promise<Reply> => {
    try {
      return { ok: true, result: await fn() };
    } catch (e) {
      if (e instanceof OperatorError) return errorReply(e.code, e.message, e.done);
      throw e;
    }
  };

  let started: Promise<void> = new Promise(() => {});
  /** start() finished (successfully): a stop can hand over at once. */
  let startDone = false;
  // Stopping happens once, for a signal or for `duet restart`; the exit waits for the reply.
  let exit: ((code: number) => void) | undefined;
  let stopped: Promise<string[]> | undefined;
  const stopping = (why: string, forRestart: boolean, code = forRestart ? EXIT_RESTART : 0): Promise<string[]> => {
    if (stopped) return stopped;
    // The priority-0 advert first, in this turn, before the log line and systemd: the backup's
    // Skew_Time starts when it hears it. (During start, the stop waits for the start instead.)
    if (startDone) daemon.release(forRestart);
    log.info({ why, forRestart }, 'stopping');
    sd?.send('STOPPING=1');
    sd?.close();
    // A stop during start waits for the start to finish, so nothing is started after the stop.
    stopped = started.catch(() => undefined).then(() => daemon.stop(forRestart)).finally(() => {
      // A restart's reply goes out first: the control client is waiting for it (see server.ts).
      if (forRestart) setTimeout(() => exit?.(code), 100);
      else exit?.(code);
    });
    return stopped;
  };

  const handler = async (req: Request, progress: (p: unknown) => void, closed: Promise<void>): Promise<Reply> => {
    switch (req.cmd) {
      case 'status': {
        const checks = await daemon.checkStatus();
        return { ok: true, result: { ...daemon.status(), checks, services: await daemon.serviceStatus(checks), nowMs: realClock.now(), uptimeMs: realClock.now() - startedAt } };
      }
      case 'reload': return reload();
      case 'events': {
        const off = daemon.onEvent((e) => progress({ at: new Date().toISOString(), ...e }));
        // The first line says the stream is attached: nothing after it is missed.
        progress({ at: new Date().toISOString(), type: 'subscribed' });
        await closed;
        off();
        return { ok: true, result: null };
      }
      case 'failover':
      case 'takeover':
        if (req.clear) return { ok: true, result: { cleared: daemon.clearOverride(req.cmd, req.instances) } };
        return operator(() => daemon.handover(req.cmd as 'failover' | 'takeover', req.instances, { sticky: req.sticky ?? false, ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}) }));
      case 'maintenance':
        return operator(() => daemon.maintenance(req.on, { sticky: req.sticky ?? false, force: req.force ?? false }));
      case 'restart': {
        // Exit 75 only helps if something starts the next run; otherwise the VIP would stay here
        // with no adverts, and the peer would take over while this node still holds it.
        if (!process.env['INVOCATION_ID'] && !req.supervised) {
          return errorReply('DUET_E_NO_SUPERVISOR', 'not started by systemd (no INVOCATION_ID), so nothing would start the next run; '
            + 'pass --supervised if your supervisor restarts duet on exit status 75, or stop and start it instead');
        }
        const kept = await stopping('restart', true);
        return { ok: true, result: { kept, exitCode: EXIT_RESTART } };
      }
      case 'ipvs': {
        // Read-only, straight from the kernel: the table duet programmed and what else is there.
        const { readIpvsList, readIpvsConns } = await import('../ipvs/kernel-view.js');
        try {
          return { ok: true, result: req.what === 'list' ? await readIpvsList() : await readIpvsConns() };
        } catch (e) {
          return errorReply('DUET_E_IO', e instanceof Error ? e.message : String(e));
        }
      }
      case 'withdraw':
      case 'announce':
        return operator(() => daemon.bgpOperator(req.vip, req.cmd === 'withdraw', req.sticky ?? false));
      case 'server':
        return operator(() => daemon.serverCommand(req.action, req.service, req.server, {
          ...(req.weight !== undefined ? { weight: req.weight } : {}), ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}), progress,
        }));
    }
  };
  const onReply = (cmd: string, ms: number, ok: boolean): void => log.debug({ mod: 'control', cmd, ms: Math.round(ms), ok }, 'control reply');
  const server = await listenControl(o.socket, handler, { onReply, onDrop: dropLogger(log, 'control socket'), limits: controlLimits(cfg) });
  const statusServer = await listenStatus(cfg, o.socket, handler, log);

  // Metrics: started with the daemon, restarted when a reload changes where they listen.
  // prom-client is loaded the first time metrics are configured (start-up time, see log.ts).
  let metrics: DuetMetrics | undefined;
  let metricsServer: Server | undefined;
  let metricsAt = '';
  let ipvsCacheMs = 0;
  const syncMetrics = async (c: Config): Promise<void> => {
    ipvsCacheMs = c.metrics?.ipvsCacheMs ?? 0;
    const at = JSON.stringify(c.metrics ? { listen: c.metrics.listen, path: c.metrics.path } : null);
    if (at === metricsAt) return;
    metricsAt = at;
    await new Promise((r) => (metricsServer ? metricsServer.close(r) : r(undefined)));
    metricsServer = undefined;
    if (!c.metrics) return;
    const m = c.metrics;
    metrics ??= (await import('../metrics/metrics.js')).createMetrics(daemon, { ipvsCacheMs: () => ipvsCacheMs, now: () => performance.now() });
    metricsServer = await serveMetrics({ host: m.listen.host, port: m.listen.port, path: m.path }, metrics, (e) => log.error({ err: e.message }, 'metrics endpoint error'))
      .catch((e: unknown) => { log.error({ err: (e as Error).message, listen: m.listen }, 'metrics endpoint failed to start'); return undefined; });
    if (metricsServer) log.info({ listen: `${m.listen.host}:${m.listen.port}`, path: m.path }, 'metrics endpoint listening');
  };
  await syncMetrics(cfg);
  daemon.onReload = (c) => syncMetrics(c);

  // Signals are handled from before the start: a SIGTERM during it stops cleanly once it is
  // done (never the default action, which would leave VIPs and the IPVS table behind), and a
  // SIGHUP during it reloads after it.
  const done = new Promise<number>((resolve) => {
    exit = (code: number): void => {
      server.close();
      statusServer?.close();
      metricsServer?.close();
      metrics?.close();
      platform.close();
      lock.release();
      log.info({ exitCode: code }, 'stopped');
      resolve(code);
      // Sockets and watchers may hold the loop open; the work is done once the log is out.
      log.flush(() => process.exit(code));
    };
  });
  const stop = (signal: string): void => { void stopping(signal, false).catch(() => []); };
  // Whatever way the process ends, no hook or track script it started outlives it.
  process.on('exit', () => { killChildGroups(); });
  // Anything thrown that nothing caught: release VIPs (bounded) and exit non-zero for a restart.
  installCrashPolicy(process, {
    log, release: () => stopping('fatal error', false, EXIT_FATAL), after: (ms, fn) => { setTimeout(fn, ms); },
    exit: (code) => { log.flush(() => process.exit(code)); },
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    void started.then(() => reload()).then(
      (r) => { if (!r.ok) log.warn({ code: r.error.code }, 'reload on SIGHUP failed'); },
      (e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'reload on SIGHUP failed'));
  });

  started = daemon.start();
  try {
    await started;
  } catch (e) {
    // Undo what was started (instances stop and release their VIPs) and exit non-zero.
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'start failed; stopping what was started');
    void stopping('start failed', false, EXIT_START_FAILED).catch(() => exit?.(EXIT_START_FAILED));
    return done;
  }
  startDone = true;
  log.info({ config: o.configFile, socket: o.socket, instances: cfg.vrrp.instances.map((i) => i.name) }, 'duet started');
  sd = systemd(log, () => daemon.healthProblems());
  // READY once the initial state is applied (IPVS table reconciled, instances started).
  sd.send(`READY=1\nSTATUS=${statusLine(daemon)}`);
  daemon.onTransition(() => sd.send(`STATUS=${statusLine(daemon)}`));
  return done;
}

/**
 * realtime.vrrp_priority for this (the main) thread, and realtime.lock_memory. A refusal is
 * logged once with what would allow it, and the daemon runs on without.
 */
function startRealtime(rt: Config['realtime'], log: Logger): void {
  if (rt.vrrp) {
    const r = setThreadRealtime(rt.vrrp);
    if (r.ok) log.info({ thread: 'vrrp', tid: r.tid, policy: r.detail }, 'real-time scheduling on');
    else log.warn({ thread: 'vrrp', err: r.error }, 'real-time scheduling refused; running without');
  }
  if (rt.lockMemory) {
    const r = lockMemory();
    if (r.ok) log.info({ locked: r.detail }, 'memory locked');
    else log.warn({ err: r.error }, 'memory locking refused; running without');
  }
}

/** Resolves with code once the log lines written so far are out. */
function flushed(log: Logger, code: number): Promise<number> {
  return new Promise((resolve) => log.flush(() => resolve(code)));
}

/**
 * Exit status of `duet restart`: EX_TEMPFAIL. systemd/duet.service restarts on it at once
 * (RestartForceExitStatus) and does not count it as a failure (SuccessExitStatus).
 */
export const EXIT_RESTART = 75;
/** A start that failed half way (after undoing it). */
export const EXIT_START_FAILED = 1;

/** STATUS= text for systemctl status: each instance's state. */
function statusLine(d: Daemon): string {
  const s = d.status();
  return s.instances.map((i) => `${i.name} ${i.state}`).join(', ') + (s.maintenance ? ' (maintenance)' : '');
}

/**
 * The systemd notify side: READY/RELOADING/STOPPING/STATUS, and WATCHDOG=1 pings from this event
 * loop at half the WatchdogSec interval while the daemon's parts are healthy, so a stuck loop or a
 * stuck part is what systemd notices. Without
 * NOTIFY_SOCKET all of it is a no-op; a failing notify is logged, never fatal.
 */
function systemd(log: Logger, problems: () => string[]): { send(state: string): void; close(): void } {
  let n: Notifier;
  try {
    n = createNotifier();
  } catch (e) {
    log.error({ err: (e as Error).message }, 'systemd notify unavailable');
    return { send: () => {}, close: () => {} };
  }
  const send = (state: string): void => {
    try { n.notify(state); } catch (e) { log.warn({ err: (e as Error).message }, 'systemd notify failed'); }
  };
  const wd = watchdogMs();
  // Health-gated: a part that is stuck (a master whose adverts do not leave, a check worker that
  // does not answer) withholds the ping, so systemd restarts the service instead of being told all is well.
  let withheld = false;
  const timer = wd ? setInterval(() => {
    const p = problems();
    if (p.length === 0) {
      if (withheld) log.warn('healthy again: watchdog pings resume');
      withheld = false;
      send('WATCHDOG=1');
      return;
    }
    withheld = true;
    log.error({ problems: p }, 'unhealthy: watchdog ping withheld');
  }, wd / 2) : undefined;
  timer?.unref();
  if (n.enabled) log.info({ watchdogMs: wd }, 'systemd notify enabled');
  return { send, close: () => { if (timer) clearInterval(timer); n.close(); } };
}

/**
 * control.status_group: a second socket, mode 0660 with that group, that answers status and
 * events only, so operators can look without being able to fail over. Set at start.
 */
async function listenStatus(cfg: Config, mainSocket: string, handler: (r: Request, p: (x: unknown) => void, c: Promise<void>) => Promise<Reply>, log: Logger): Promise<NetServer | undefined> {
  const c = cfg.control;
  if (!c?.statusGroup) return undefined;
  const gid = groupId(c.statusGroup);
  if (gid === undefined) {
    log.error({ group: c.statusGroup }, 'control.status_group: no such group; the status socket is not opened');
    return undefined;
  }
  const path = c.statusSocket ?? join(dirname(mainSocket), 'duet-status.sock');
  const readOnly = async (req: Request, p: (x: unknown) => void, closed: Promise<void>): Promise<Reply> =>
    req.cmd === 'status' || req.cmd === 'events' || req.cmd === 'ipvs'
      ? handler(req, p, closed)
      : errorReply('DUET_E_READONLY', `this socket is read-only (status, events, ipvs); '${req.cmd}' needs the root socket`);
  let s: NetServer;
  try {
    s = await listenControl(path, readOnly, { mode: 0o660, gid, onDrop: dropLogger(log, 'status socket'), limits: controlLimits(cfg) });
  } catch (e) {
    const err = (e as NodeJS.ErrnoException);
    log.error({ socket: path, group: c.statusGroup, err: err.message },
      err.code === 'EPERM' ? 'the status socket cannot be given to its group (CAP_CHOWN, which the unit grants, is missing); not opened' : 'the status socket could not be opened');
    return undefined;
  }
  log.info({ socket: path, group: c.statusGroup, gid }, 'read-only status socket listening');
  const blocked = blockingDir(path, gid);
  if (blocked) {
    log.error({ socket: path, group: c.statusGroup, dir: blocked.dir, mode: blocked.mode.toString(8) },
      `the status group cannot reach the socket: ${blocked.dir} is not searchable by it (the unit makes /run/duet 0711)`);
  }
  return s;
}

/** Logs the connections the control server closes on its own: the first of a kind at once, then a count per second at most. */
function dropLogger(log: Logger, socket: string): (reason: DropReason) => void {
  const since = new Map<DropReason, number>();
  let timer: NodeJS.Timeout | undefined;
  return (reason) => {
    if (timer) { since.set(reason, (since.get(reason) ?? 0) + 1); return; }
    log.warn({ mod: 'control', socket, reason }, 'control connection closed by the daemon');
    timer = setTimeout(() => {
      timer = undefined;
      for (const [r, n] of since) log.warn({ mod: 'control', socket, reason: r, count: n }, 'control connections closed by the daemon in the last second');
      since.clear();
    }, 1000);
    timer.unref();
  };
}

/** control.idle_timeout and control.max_connections (set at start, as the sockets are). */
function controlLimits(cfg: Config): Partial<ControlLimits> {
  const c = cfg.control;
  return c ? { idleMs: c.idleTimeoutMs, maxConnections: c.maxConnections } : {};
}
