#!/usr/bin/env node
// duet: one executable. `duet run` is the daemon; the other subcommands validate or talk to it.
import { parseArgs } from 'node:util';
import { loadConfig, formatIssue } from '../config/load.js';
import { request } from '../control/client.js';
import { DEFAULT_SOCKET, type Request } from '../control/protocol.js';
import { runDaemon } from '../daemon/main.js';
import { formatStatus } from './format.js';

const USAGE = `usage: duet <command> [options]

commands:
  run     -c FILE [-s SOCKET]     run the daemon in the foreground
  check   -c FILE                 validate a config file; touches nothing
  status  [-s SOCKET] [--json]    show VRRP instances of a running daemon
  reload  [-s SOCKET]             re-read the config (like SIGHUP); an invalid one changes nothing

defaults: -c /etc/duet/duet.yaml, -s ${DEFAULT_SOCKET}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c', default: '/etc/duet/duet.yaml' },
      socket: { type: 'string', short: 's', default: process.env['DUET_SOCKET'] ?? DEFAULT_SOCKET },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (!cmd || cmd === 'help' || values.help) { console.log(USAGE); return cmd ? 0 : 2; }
  switch (cmd) {
    case 'run':
      return runDaemon({ configFile: values.config, socket: values.socket });
    case 'check': {
      const r = await loadConfig(values.config);
      if (!r.ok) { for (const i of r.error) console.error(formatIssue(i)); return 1; }
      const n = r.value.vrrp.instances.length;
      console.log(`${values.config}: ok (${n} VRRP instance${n === 1 ? '' : 's'})`);
      return 0;
    }
    case 'status':
    case 'reload': {
      const req: Request = { cmd };
      const reply = await request(values.socket, req).catch((e: unknown) => {
        console.error(`duet: cannot reach the daemon at ${values.socket}: ${(e as Error).message}`);
        return undefined;
      });
      if (!reply) return 3;
      if (!reply.ok) {
        console.error(`duet: ${reply.error.message}`);
        if (Array.isArray(reply.error.details)) for (const d of reply.error.details) console.error(`  ${String(d)}`);
        return 1;
      }
      if (values.json) console.log(JSON.stringify(reply.result, null, 2));
      else console.log(cmd === 'status' ? formatStatus(reply.result as never) : JSON.stringify(reply.result));
      return 0;
    }
    default:
      console.error(`duet: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { if (code !== 0 || process.argv[2] !== 'run') process.exitCode = code; },
  (e: unknown) => { console.error('duet:', e); process.exitCode = 1; });
