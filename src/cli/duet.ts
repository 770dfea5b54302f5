#!/usr/bin/env node
// duet: one executable. `duet run` is the daemon; the other subcommands validate or talk to it.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { request } from '../control/client.js';
import { DEFAULT_SOCKET, type Request } from '../control/protocol.js';
import { USAGE, commandUsage } from './usage.js';
import { formatEvent, formatOperator, formatReload, formatRestart, formatStatus } from './format.js';
import { formatTable, type ListView } from '../ipvs/format.js';
import type { IpvsListView } from '../ipvs/kernel-view.js';
import type { ConnEntry } from '../ipvs/conns.js';

/**
 * `duet ipvs list|conns`: asked of the daemon (so the read-only status socket serves it too);
 * with no daemon at the socket, read from the kernel directly, like ipvsadm, and say so.
 */
async function ipvsCommand(socket: string, what: 'list' | 'conns', print: (v: unknown) => void): Promise<number> {
  const reply = await request(socket, { cmd: 'ipvs', what }, 30_000).catch(() => undefined);
  if (reply?.ok) { print(reply.result); return 0; }
  // A daemon that answered with an error (other than not knowing the command) has the last word.
  if (reply && reply.error.code !== 'DUET_E_REQUEST') { console.error(`duet: ${reply.error.message} [${reply.error.code}]`); return 1; }
  console.error(`duet: no daemon answers at ${socket}; reading the kernel directly`);
  const { readIpvsList, readIpvsConns } = await import('../ipvs/kernel-view.js');
  try {
    print(what === 'list' ? await readIpvsList() : await readIpvsConns());
    return 0;
  } catch (e) {
    console.error(`duet: ${(e as Error).message}`);
    return 1;
  }
}

async function ipvsList(socket: string, view: ListView, json: boolean): Promise<number> {
  const { viewTables } = await import('../ipvs/kernel-view.js');
  return ipvsCommand(socket, 'list', (v) => {
    if (json) { console.log(JSON.stringify(v, null, 2)); return; }
    const t = viewTables(v as IpvsListView);
    process.stdout.write(formatTable(t.info, t.table, t.stats, view));
  });
}

async function ipvsConns(socket: string, persistentConn: boolean, json: boolean): Promise<number> {
  const { formatConns } = await import('../ipvs/conns.js');
  return ipvsCommand(socket, 'conns', (v) => {
    if (json) console.log(JSON.stringify(v, null, 2));
    else process.stdout.write(formatConns(v as ConnEntry[], { persistentConn }));
  });
}

/** `duet events`: print each event line until the daemon goes away or we are interrupted. */
async function followEvents(socket: string, json: boolean): Promise<number> {
  const print = (e: unknown): void => {
    // `subscribed` (the stream is attached) is for scripts: --json passes it on, people see events only.
    if (!json && (e as { type?: string }).type === 'subscribed') return;
    console.log(json ? JSON.stringify(e) : formatEvent(e));
  };
  const reply = await request(socket, { cmd: 'events' }, 2 ** 31 - 1, print).catch((e: unknown) => {
    console.error(`duet: event stream from ${socket} ended: ${(e as Error).message}`);
    return undefined;
  });
  return reply ? 0 : 3;
}

/** Failover, takeover, maintenance: they wait for the wire, so the reply can take seconds. */
async function operatorCommand(socket: string, req: Request, json: boolean): Promise<number> {
  const progress = (p: unknown): void => {
    const d = p as { server: string; service: string; active: number; inactive: number; elapsedMs: number };
    if (!json) console.log(`draining ${d.server} in ${d.service}: ${d.active} active, ${d.inactive} inactive (${(d.elapsedMs / 1000).toFixed(1)} s)`);
  };
  const reply = await request(socket, req, 90_000_000, progress).catch((e: unknown) => {
    console.error(`duet: cannot reach the daemon at ${socket}: ${(e as Error).message}`);
    return undefined;
  });
  if (!reply) return 3;
  if (json) console.log(JSON.stringify(reply, null, 2));
  if (!reply.ok) {
    if (!json) console.error(`duet: ${reply.error.message} [${reply.error.code}]`);
    return 1;
  }
  if (!json) console.log(formatOperator(reply.result));
  return 0;
}

/** The interfaces a config names that this host does not have (from /sys/class/net). */
function missingInterfaces(c: { vrrp: { instances: ReadonlyArray<{ name: string; interface: string; vips: ReadonlyArray<{ dev?: string | undefined }>; trackInterfaces: ReadonlyArray<{ name: string }> }> }; syncDaemon?: { interface: string } | undefined }): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const check = (ifname: string, where: string): void => {
    if (seen.has(ifname)) return;
    seen.add(ifname);
    if (!existsSync(`/sys/class/net/${ifname}`)) out.push(`interface ${ifname} (${where}) does not exist on this host`);
  };
  for (const i of c.vrrp.instances) {
    check(i.interface, `instance ${i.name}`);
    for (const v of i.vips) if (v.dev) check(v.dev, `a VIP of ${i.name}`);
    for (const t of i.trackInterfaces) check(t.name, `tracked by ${i.name}`);
  }
  if (c.syncDaemon) check(c.syncDaemon.interface, 'sync_daemon');
  return out;
}

/** package.json's version (two folders up from dist/src/cli, three from src/cli under ts). */
function version(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try { return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version; } catch { /* next */ }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c', default: '/etc/duet/duet.yaml' },
        socket: { type: 'string', short: 's', default: process.env['DUET_SOCKET'] ?? DEFAULT_SOCKET },
        json: { type: 'boolean', default: false },
        stats: { type: 'boolean', default: false },
        rate: { type: 'boolean', default: false },
        thresholds: { type: 'boolean', default: false },
        'persistent-conn': { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
        pretty: { type: 'boolean', default: false },
        sticky: { type: 'boolean', default: false },
        clear: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        supervised: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        vip: { type: 'string', multiple: true },
        mode: { type: 'string' },
        dev: { type: 'string' },
        state: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        output: { type: 'string', short: 'o' },
        check: { type: 'boolean', default: false },
        'config-id': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
  } catch (e) {
    // An unknown or malformed option: say which, and how the command is used; no stack trace.
    console.error(`duet: ${(e as Error).message}\n${(cmd && commandUsage(cmd)) ?? USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    const only = cmd === 'help' && positionals[0] ? commandUsage(positionals[0]) : undefined;
    console.log(only ?? USAGE);
    return cmd ? 0 : 2;
  }
  if (values.help) {
    const u = commandUsage(cmd);
    if (u) { console.log(u); return 0; }
    console.error(`duet: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') { console.log(`duet ${version()}`); return 0; }
  switch (cmd) {
    case 'run':
      return (await import('../daemon/main.js')).runDaemon({ configFile: values.config, socket: values.socket, ...(values.pretty ? { pretty: true } : {}) });
    case 'check': {
      // Only `check` reads a config here (`run` does in the daemon): the parser costs every other
      // command its start-up time, seconds under emulation.
      const { loadConfig, formatIssue } = await import('../config/load.js');
      // As the daemon loads it: the programs it names are checked on this host (script security).
      const { realScriptHost } = await import('../core/script-run.js');
      const absent: string[] = [];
      const r = await loadConfig(values.config, { scriptHost: realScriptHost, warn: (i) => absent.push(formatIssue(i)) });
      if (!r.ok) { for (const i of r.error) console.error(formatIssue(i)); return 1; }
      const n = r.value.vrrp.instances.length;
      // Valid, but meant for another host? Say which interfaces this one lacks (those instances would sit in FAULT).
      for (const w of missingInterfaces(r.value)) console.error(`duet: warning: ${w}`);
      for (const w of absent) console.error(`duet: warning: ${w} (duet run refuses this file here)`);
      const b = r.value.bgp?.vips.length ?? 0;
      console.log(`${values.config}: ok (${n} VRRP instance${n === 1 ? '' : 's'}${b ? `, ${b} BGP VIP${b === 1 ? '' : 's'}` : ''})`);
      return 0;
    }
    case 'status':
    case 'reload': {
      const req: Request = { cmd };
      // A reload of a very large file can take a while (parse, then the IPVS diff): wait for it.
      const reply = await request(values.socket, req, cmd === 'reload' ? 600_000 : 5_000).catch((e: unknown) => {
        console.error(`duet: cannot reach the daemon at ${values.socket}: ${(e as Error).message}`);
        return undefined;
      });
      if (!reply) return 3;
      if (!reply.ok) {
        console.error(`duet: ${reply.error.message} [${reply.error.code}]`);
        if (Array.isArray(reply.error.details)) for (const d of reply.error.details) console.error(`  ${String(d)}`);
        return 1;
      }
      if (values.json) console.log(JSON.stringify(reply.result, null, 2));
      else console.log(cmd === 'status' ? formatStatus(reply.result as never) : formatReload(reply.result));
      return 0;
    }
    case 'events':
      return followEvents(values.socket, values.json);
    case 'restart': {
      const reply = await request(values.socket, { cmd: 'restart', ...(values.supervised ? { supervised: true } : {}) }, 60_000).catch((e: unknown) => {
        console.error(`duet: cannot reach the daemon at ${values.socket}: ${(e as Error).message}`);
        return undefined;
      });
      if (!reply) return 3;
      if (values.json) console.log(JSON.stringify(reply, null, 2));
      else if (!reply.ok) console.error(`duet: ${reply.error.message} [${reply.error.code}]`);
      else console.log(formatRestart(reply.result));
      return reply.ok ? 0 : 1;
    }
    case 'failover':
    case 'takeover': {
      const t = values.timeout === undefined ? undefined : Number(values.timeout);
      if (t !== undefined && !(t > 0 && t <= 600)) { console.error('duet: --timeout must be 0..600 seconds'); return 2; }
      const req: Request = { cmd, instances: values.all || positionals.length === 0 ? 'all' : positionals, clear: values.clear, sticky: values.sticky,
        ...(t !== undefined ? { timeoutMs: Math.round(t * 1000) } : {}) };
      return operatorCommand(values.socket, req, values.json);
    }
    case 'weight':
    case 'enable':
    case 'disable':
    case 'drain': {
      const [service, server, w] = positionals;
      const usage = cmd === 'weight' ? 'duet weight SERVICE SERVER N|--clear' : `duet ${cmd} SERVICE SERVER${cmd === 'drain' ? ' [--timeout S]' : ''}`;
      if (!service || !server || (cmd === 'weight' && (w === undefined) === !values.clear)) { console.error(`duet: usage: ${usage}`); return 2; }
      const weight = w === undefined ? undefined : Number(w);
      if (weight !== undefined && !(Number.isInteger(weight) && weight >= 0 && weight <= 65535)) { console.error(`duet: weight must be 0..65535, got '${w}'`); return 2; }
      const t = values.timeout === undefined ? undefined : Number(values.timeout);
      if (t !== undefined && !(t > 0 && t <= 86400)) { console.error('duet: --timeout must be 0..86400 seconds'); return 2; }
      const req: Request = { cmd: 'server', action: cmd, service, server, ...(weight !== undefined ? { weight } : {}), ...(t !== undefined ? { timeoutMs: Math.round(t * 1000) } : {}) };
      return operatorCommand(values.socket, req, values.json);
    }
    case 'maintenance': {
      const on = positionals[0];
      if (on !== 'on' && on !== 'off') { console.error('duet: usage: duet maintenance on|off [--sticky] [--force]'); return 2; }
      return operatorCommand(values.socket, { cmd: 'maintenance', on: on === 'on', sticky: values.sticky, force: values.force }, values.json);
    }
    case 'withdraw':
    case 'announce': {
      const [vip] = positionals;
      if (!vip || positionals.length > 1) { console.error(`duet: usage: duet ${cmd} VIP`); return 2; }
      return operatorCommand(values.socket, { cmd, vip, ...(cmd === 'withdraw' && values.sticky ? { sticky: true } : {}) }, values.json);
    }
    case 'ipvs': {
      if (positionals[0] === 'conns') return ipvsConns(values.socket, values['persistent-conn'], values.json);
      if (positionals[0] !== 'list') { console.error(`duet: usage: duet ipvs list [--stats|--rate|--thresholds|--persistent-conn] [--json] | duet ipvs conns [--persistent-conn] [--json]`); return 2; }
      const view: ListView = values.stats ? 'stats' : values.rate ? 'rate' : values.thresholds ? 'thresholds' : values['persistent-conn'] ? 'persistent-conn' : 'plain';
      return ipvsList(values.socket, view, values.json);
    }
    case 'import':
      return (await import('../import/cli.js')).importCommand(positionals, values);
    case 'export':
      return (await import('../import/export-cli.js')).exportCommand(positionals, values);
    case 'realserver':
      return (await import('../realserver/cli.js')).realserverCommand(positionals, values);
    default:
      console.error(`duet: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { if (code !== 0 || process.argv[2] !== 'run') process.exitCode = code; },
  (e: unknown) => { console.error('duet:', e); process.exitCode = 1; });
