// The CLI's command table and usage text: `duet --help` prints it, and the package's duet(8)
// man page and bash completion are generated from it (lab/pkg-man.ts), so they cannot drift.
import { DEFAULT_SOCKET } from '../control/protocol.js';

/** Each command's usage: `duet CMD --help` prints its own entry, `duet --help` all of them. */
export const COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ['run', `run     -c FILE [-s SOCKET] [--pretty]
                                  run the daemon in the foreground (--pretty: readable logs)`],
  ['check', `check   -c FILE                 validate a config file; touches nothing`],
  ['status', `status  [-s SOCKET] [--json]    show VRRP instances of a running daemon`],
  ['reload', `reload  [-s SOCKET]             re-read the config (like SIGHUP); an invalid one changes nothing`],
  ['events', `events  [-s SOCKET] [--json]    follow transitions, check changes, reconciles and operator
                                  actions as they happen (Ctrl-C to stop)`],
  ['failover', `failover [INSTANCE...|--all] [--sticky] [--clear] [--timeout S]
                                  hand mastership to the peer through VRRP and report how long
                                  it took (no names: all); refused if no peer takes over`],
  ['takeover', `takeover [INSTANCE...|--all] [--sticky] [--clear] [--timeout S]
                                  take mastership from the peer; --clear withdraws either`],
  ['maintenance', `maintenance on|off [--sticky] [--force]
                                  on: hand over, then never be master; --force even without a peer`],
  ['withdraw', `withdraw VIP [--sticky]         stop announcing a VIP in bgp mode (it stays accepted locally);
                                  until announce or a reload (--sticky: also across reloads and restarts)`],
  ['announce', `announce VIP                    undo withdraw: the VIP is announced again while healthy`],
  ['restart', `restart [--supervised]          exit for a restart without a VRRP transition: a master keeps
                                  its VIPs, IPVS table and sync daemon, and the next run (started
                                  by systemd at once, exit status 75) resumes as master if it
                                  starts within 2.5 advert intervals; outside systemd only with
                                  --supervised (your supervisor restarts duet on status 75)`],
  ['weight', `weight SERVICE SERVER N|--clear pin a real server's weight (checks still take a failed one out)`],
  ['disable', `disable SERVICE SERVER          take a real server out of the table`],
  ['enable', `enable SERVICE SERVER           undo weight/disable/drain: config and checks decide again`],
  ['drain', `drain SERVICE SERVER [--timeout S]
                                  weight 0, then wait until its active connections reach 0
                                  (SERVICE: name or key such as tcp:192.0.2.100:80;
                                   SERVER: address, or address:port)`],
  ['ipvs', `ipvs list [--stats|--rate|--thresholds|--persistent-conn] [--json] [-s SOCKET]
                                  the kernel's IPVS table, as ipvsadm -Ln prints it
  ipvs conns [--persistent-conn] [--json] [-s SOCKET]
                                  IPVS connection entries, as ipvsadm -Lnc prints them
                                  (from the daemon; with none running, read from the kernel)`],
  ['realserver', `realserver setup|teardown --vip ADDR [--vip ADDR...] --mode dr|tun [--dev IFACE] [--state FILE] [--dry-run]
                                  on a real server: the VIP on lo (dr) or tunl0 (tun) and the
                                  arp_ignore/arp_announce(/rp_filter) sysctls; teardown restores
                                  them; --dry-run prints the ip/sysctl commands only`],
  ['import', `import keepalived [FILE] [-o OUT] [--check] [--config-id ID]
                                  translate a keepalived.conf (default /etc/keepalived/keepalived.conf)
                                  to duet YAML on stdout (or OUT), each block under a comment with its
                                  file:line; every keyword not translated is listed on stderr as
                                  file:line: keyword: why. --check: also load the result as duet check
                                  does. --config-id: for @ID lines (default: the host name up to '.').
                                  Exit 0 complete, 4 partial, 1 failed (or --check failed), 2 usage`],
  ['export', `export keepalived [-c FILE] [-o OUT]
                                  translate duet's config to keepalived.conf on stdout (or OUT), the
                                  way back from import; every field keepalived cannot express is
                                  listed on stderr as file:line: field: why.
                                  Exit 0 complete, 4 partial, 1 failed (the config does not load), 2 usage`],
  ['version', `version                         print duet's version (also duet --version)`],
];
export const DEFAULTS = `defaults: -c /etc/duet/duet.yaml, -s ${DEFAULT_SOCKET} (or $DUET_SOCKET)`;
export const USAGE = `usage: duet <command> [options]     (duet <command> --help: that command only)

commands:
${COMMANDS.map(([, u]) => `  ${u}`).join('\n')}

${DEFAULTS}`;

/** `duet CMD --help`: the command's own usage, or undefined for an unknown command. */
export function commandUsage(cmd: string): string | undefined {
  const u = COMMANDS.find(([c]) => c === cmd)?.[1];
  return u === undefined ? undefined : `usage: duet ${u}\n\n${DEFAULTS}`;
}

