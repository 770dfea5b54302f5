// The connection-survival lab (issue 5): one VM per forwarding mode (DR or NAT), namespaces on
// bridges in a `lan` namespace: a client c, two directors d1 (priority 150, preempt after a delay)
// and d2 (priority 100) running duet, two real servers rs1 and rs2 running a line-echo server.
// For each option (sync: sync_daemon, rr; none: rr without sync, the baseline; mh: the mh
// scheduler with sloppy_tcp, no sync) the job builds the lab from scratch and:
//  1. starts both duet, waits for d1 master (and the sync daemons in place);
//  2. opens batch `a` of N sessions through the VIP (lab/survival-client.ts: one numbered line
//     per session every INTERVAL ms, echo checked in order); waits until d2's connection table
//     holds them (sync) or a few seconds, and records d2's copy of them by state;
//  3. kills d1 host-down (SIGKILL to duet, its bridge ports down) and measures WINDOW s: sessions
//     that survived, the longest stall, the failover time (kill -> d2's transition to master);
//  4. "reboots" d1: its namespace is deleted and created afresh (an empty IPVS table and connection
//     table, no VIP, no sync daemon: what a host that lost power comes back with; `ipvsadm -C`
//     alone would keep the old connection entries, which would hide a missing sync), opens batch
//     `b` through d2, starts duet on d1 again; d1's backup sync daemon learns d2's connections
//     during preempt_delay, then d1 preempts; measures WINDOW s again over both batches.
// The job prints machine-readable lines starting with "@@" that parseSurvival() reads.
import { runInVm, type VmResult } from './vm.js';

export type Mode = 'dr' | 'nat';
export type SyncOption = 'sync' | 'none' | 'mh';
export const OPTIONS: readonly SyncOption[] = ['sync', 'none', 'mh'];

export interface SurvivalOptions {
  mode: Mode;
  options?: readonly SyncOption[];
  /** Sessions per batch. Default 120. */
  sessions?: number;
  /** ms between two lines of one session. Default 500. */
  intervalMs?: number;
  /**
   * Measurement window after the kill and after the preempt, s. Default 20: a session whose
   * retransmission just missed the takeover waits one more RTO backoff step (6.2 -> 12.6 s).
   */
  windowS?: number;
  /** d1's preempt_delay, s. Default 5. */
  preemptDelayS?: number;
  /** net.ipv4.vs.sync_threshold on the directors ("threshold period"). Default "3 10". */
  syncThreshold?: string;
  /** VRRP advert interval, s. Default 1. */
  advertIntS?: number;
  /** The options that also run the failback phase (d1 reboots and preempts). Default: all. */
  failback?: readonly SyncOption[];
}

const VIP = '192.0.2.100';
const GW = '10.0.0.1';
const PORT = 7;

function config(mode: Mode, opt: SyncOption, node: 'd1' | 'd2', o: Required<SurvivalOptions>): string {
  const prio = node === 'd1' ? 150 : 100;
  const pd = node === 'd1' ? `, preempt_delay: ${o.preemptDelayS}` : '';
  const common = `priority: ${prio}, advert_int: ${o.advertIntS}${pd}`;
  const sched = opt === 'mh' ? 'mh\n    scheduler_flags: [mh-port]' : 'rr';
  const rs = mode === 'dr' ? ['192.0.2.21', '192.0.2.22'] : ['10.0.0.21', '10.0.0.22'];
  const vrrp = mode === 'dr'
    ? `vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, ${common}, virtual_ipaddress: [${VIP}/24] }`
    : `vrrp:
  instances:
    - { name: VI_PUB, interface: eth0, vrid: 61, ${common}, virtual_ipaddress: [${VIP}/24] }
    - { name: VI_GW, interface: eth1, vrid: 62, ${common}, virtual_ipaddress: [${GW}/24] }
  sync_groups:
    - { name: NAT, instances: [VI_PUB, VI_GW] }`;
  const follow = mode === 'dr' ? 'instance: VI_1' : 'sync_group: NAT';
  return `node: { name: ${node} }
${vrrp}
${opt === 'sync' ? `sync_daemon: { interface: eth0, ${follow}, syncid: 7 }\n` : ''}${opt === 'mh' ? 'ipvs_sysctl: { sloppy_tcp: true }\n' : ''}virtual_servers:
  - name: echo
    address: ${VIP}
    port: ${PORT}
    scheduler: ${sched}
    lb_kind: ${mode}
    real_servers:
${rs.map((a) => `      - { address: ${a} }`).join('\n')}
`;
}

const ECHO = String.raw`
import net from 'node:net';
net.createServer((c) => { c.setNoDelay(true); c.on('error', () => {}); c.pipe(c); }).listen(${PORT}, '0.0.0.0', () => console.log('listening'));
`;

function defaults(o: SurvivalOptions): Required<SurvivalOptions> {
  return {
    mode: o.mode,
    options: o.options ?? OPTIONS,
    sessions: o.sessions ?? 120,
    intervalMs: o.intervalMs ?? 500,
    windowS: o.windowS ?? 20,
    preemptDelayS: o.preemptDelayS ?? 5,
    syncThreshold: o.syncThreshold ?? '3 10',
    advertIntS: o.advertIntS ?? 1,
    failback: o.failback ?? o.options ?? OPTIONS,
  };
}

/** The bash job for one VM: every option of `o.options`, one after the other, for `o.mode`. */
export function survivalJob(input: SurvivalOptions): string {
  const o = defaults(input);
  const nat = o.mode === 'nat';
  const files = o.options.flatMap((opt) => (['d1', 'd2'] as const).map((n) =>
    `cat > /tmp/lab/${opt}-${n}.yaml <<'YAML'\n${config(o.mode, opt, n, o)}YAML`)).join('\n');
  const vips = nat ? `ip -n $1 addr show eth0 | grep -q ' ${VIP}/' && ip -n $1 addr show eth1 | grep -q ' ${GW}/'` : `ip -n $1 addr show eth0 | grep -q ' ${VIP}/'`;
  const rsAddr = (i: number): string => (nat ? `10.0.0.2${i}` : `192.0.2.2${i}`);
  return String.raw`
set -u
MODE=${o.mode}; N=${o.sessions}; INTERVAL=${o.intervalMs}; WIN=${o.windowS}; PD=${o.preemptDelayS}
FAILBACK="${o.failback.join(' ')}"
L=/tmp/lab
mkdir -p $L
nowms() { NOW=${'$'}{EPOCHREALTIME/[.,]/}; NOW=${'$'}{NOW:0:-3}; }
say() { echo "@@$*"; }
# waitfor SECONDS CONDITION: poll the condition (eval) until it holds or the time is up.
waitfor() { local end; nowms; end=$((NOW + $1 * 1000)); while :; do eval "$2" && return 0; nowms; ((NOW >= end)) && return 1; sleep 0.2; done; }
sleep_until() { local d; nowms; d=$(($1 - NOW)); ((d > 0)) && sleep $((d / 1000)).$(printf %03d $((d % 1000))); return 0; }
cat > $L/echo.mjs <<'JS'
${ECHO}
JS
${files}
modprobe -a ip_vs ip_vs_rr ip_vs_mh 2>&1 || true

# A director's namespace, links and sysctls (also the "reboot" of d1). $1 name, $2 last octet.
mk_director() {
  ip netns add $1 || return 1
  ip link add name $1-e netns lan type veth peer name eth0 netns $1 || return 1
  ip -n lan link set dev $1-e master br0 up || return 1
${nat ? `  ip link add name $1-n netns lan type veth peer name eth1 netns $1 || return 1
  ip -n lan link set dev $1-n master br1 up || return 1
` : ''}  ip -n $1 -b - <<EOF || return 1
link set lo up
addr add 192.0.2.$2/24 dev eth0
link set eth0 up
${nat ? `addr add 10.0.0.$2/24 dev eth1
link set eth1 up
` : ''}EOF
  ip netns exec $1 sh -c "${nat ? 'echo 1 > /proc/sys/net/ipv4/ip_forward && ' : ''}echo '${o.syncThreshold}' > /proc/sys/net/ipv4/vs/sync_threshold" || return 1
}
host_ns() { # name address bridge
  ip netns add $1 || return 1
  ip link add name $1-e netns lan type veth peer name eth0 netns $1 || return 1
  ip -n lan link set dev $1-e master $3 up || return 1
  ip -n $1 -b - <<EOF || return 1
link set lo up
addr add $2/24 dev eth0
link set eth0 up
EOF
}
# The parts every option shares: the bridges, the client's namespace, the real servers and their
# echo servers. Built once per VM.
lab_base() {
  ip netns add lan || return 1
  ip -n lan -b - <<EOF || return 1
link set lo up
link add br0 type bridge forward_delay 0
link set br0 up
${nat ? `link add br1 type bridge forward_delay 0
link set br1 up
` : ''}EOF
  host_ns c 192.0.2.50 br0 || return 1
  for i in 1 2; do
    host_ns rs$i ${nat ? '10.0.0.2$i br1' : '192.0.2.2$i br0'} || return 1
${nat ? `    ip -n rs$i route add default via ${GW} || return 1`
    : `    ip netns exec rs$i sh -c 'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 && ip addr add ${VIP}/32 dev lo' || return 1`}
    ip netns exec rs$i node $L/echo.mjs > $L/rs$i.log 2>&1 &
  done
  waitfor 120 'grep -q listening $L/rs1.log && grep -q listening $L/rs2.log' || return 1
}
# Per option: both directors from scratch (fresh IPVS state, sysctls, sync daemons).
lab_up() {
  mk_director d1 11 || return 1
  mk_director d2 12 || return 1
}
PIDS=()
lab_down() {
  for p in "${'$'}{PIDS[@]}"; do kill -KILL $p 2>/dev/null; done
  PIDS=()
  for n in d1 d2; do ip netns del $n 2>/dev/null; done
  return 0
}
start_duet() { # node: appends to the node's log
  mkdir -p $L/$1
  ip netns exec $1 node build/src/cli/duet.js run -c $L/$OPT-$1.yaml -s $L/$1/duet.sock >> $L/$OPT-$1.log 2>&1 &
  eval "PID_$1=$!"; PIDS+=($!)
}
has_vips() { ${vips}; }
daemons() { ip netns exec $1 ipvsadm -L --daemon 2>&1; }
# The client's connections in a director's table, by state: "ESTABLISHED=120 SYN_RECV=1" (or "none").
conns() { ip netns exec $1 ipvsadm -Lnc 2>/dev/null | awk '$4 ~ /^192\.0\.2\.50:/ {c[$3]++} END {s = ""; for (k in c) s = s k "=" c[k] " "; print (s == "" ? "none" : s)}'; }
established() { ip netns exec $1 ipvsadm -Lnc 2>/dev/null | awk '$3 == "ESTABLISHED" && $4 ~ /^192\.0\.2\.50:/ {n++} END {print n + 0}'; }
ctl() { echo "$*" >&5; }
client_has() { grep -q "$1" $L/$OPT-client.log; }
dump() {
  [ -f $L/$OPT-client.log ] && sed "s/^/@@client $OPT /" $L/$OPT-client.log
  for n in d1 d2; do
    [ -f $L/$OPT-$n.log ] && grep -h '"msg":"transition"\|sync daemon\|"level":[5-6]0' $L/$OPT-$n.log | sed "s/^/@@log $OPT $n /"
  done
}
fail_opt() {
  say "error $OPT $*"
  for n in d1 d2; do echo "--- $OPT $n log tail"; tail -n 15 $L/$OPT-$n.log 2>/dev/null; done
  echo "--- $OPT client log tail"; tail -n 5 $L/$OPT-client.log 2>/dev/null
  exec 5>&-
  dump
  lab_down
  return 1
}

run_opt() {
  OPT=$1
  say "begin $OPT"
  lab_up || { fail_opt "lab setup failed"; return 1; }
  start_duet d1; start_duet d2
  nowms; local t0=$NOW
  waitfor 150 'has_vips d1' || { fail_opt "d1 never master"; return 1; }
  waitfor 60 'grep -q "\"to\":\"backup\"" $L/$OPT-d2.log' || { fail_opt "d2 never backup"; return 1; }
  if [ $OPT = sync ]; then
    waitfor 60 'daemons d1 | grep -q "^master sync" && daemons d2 | grep -q "^backup sync"' || { fail_opt "sync daemons not in place: d1 $(daemons d1) d2 $(daemons d2)"; return 1; }
  fi
  nowms; say "event $OPT pair-up $((NOW - t0))"
  say "note $OPT sloppy_tcp d1=$(ip netns exec d1 cat /proc/sys/net/ipv4/vs/sloppy_tcp) d2=$(ip netns exec d2 cat /proc/sys/net/ipv4/vs/sloppy_tcp) sync_threshold=$(ip netns exec d2 cat /proc/sys/net/ipv4/vs/sync_threshold | tr '\t' ' ')"

  rm -f $L/$OPT.ctl; mkfifo $L/$OPT.ctl
  ip netns exec c node build/lab/survival-client.js --vip ${VIP} --port ${PORT} --interval $INTERVAL --max-seconds 600 < $L/$OPT.ctl > $L/$OPT-client.log 2>&1 &
  CPID=$!; PIDS+=($CPID)
  exec 5> $L/$OPT.ctl
  ctl open a $N
  waitfor 150 'client_has "\"ev\":\"opened\",\"batch\":\"a\""' || { fail_opt "batch a never opened"; return 1; }
  nowms; local synced_from=$NOW
  if [ $OPT = sync ]; then
    # Every session's connection ESTABLISHED in the backup's table (synced at its 3rd packet).
    waitfor 60 '(( $(established d2) >= N ))' || say "note $OPT d2 holds only $(established d2) of $N established connections after 60 s"
  else
    sleep 3
  fi
  nowms; say "event $OPT synced $((NOW - synced_from))"
  say "conns $OPT d2 before-kill $(conns d2)"
  say "conns $OPT d1 before-kill $(conns d1)"

  # Host down: SIGKILL, and the links go dark.
  nowms; local kill_at=$NOW
  kill -KILL $PID_d1
  ip -n lan link set d1-e down
${nat ? '  ip -n lan link set d1-n down\n' : ''}  ctl mark kill
  say "event $OPT kill $kill_at"
  waitfor 60 'has_vips d2' && { nowms; say "event $OPT d2-vips $NOW"; }
  sleep_until $((kill_at + WIN * 1000))
  ctl report kill
  waitfor 20 'client_has "\"ev\":\"report\",\"name\":\"kill\""'
  say "conns $OPT d2 after-failover $(conns d2)"
  if [[ " $FAILBACK " != *" $OPT "* ]]; then finish_opt; return 0; fi

  # The dead host comes back: a fresh namespace, nothing left of its IPVS state.
  ip netns del d1
  mk_director d1 11 || { fail_opt "d1 reboot failed"; return 1; }
  ctl open b $N
  waitfor 150 'client_has "\"ev\":\"opened\",\"batch\":\"b\""' || { fail_opt "batch b never opened"; return 1; }
  ctl mark failback
  nowms; local start_at=$NOW
  say "event $OPT d1-start $start_at"
  start_duet d1
  waitfor 180 'has_vips d1' || { fail_opt "d1 never took over again"; return 1; }
  ctl mark preempt
  nowms; local back_at=$NOW
  say "event $OPT d1-vips $back_at"
  say "conns $OPT d1 at-preempt $(conns d1)"
  sleep_until $((back_at + WIN * 1000))
  ctl report failback preempt
  waitfor 20 'client_has "\"ev\":\"report\",\"name\":\"failback\""'
  say "conns $OPT d1 after-failback $(conns d1)"
  finish_opt
}
finish_opt() {
  ctl quit
  exec 5>&-
  waitfor 20 '! kill -0 $CPID 2>/dev/null'
  dump
  lab_down
  say "end $OPT"
}

nowms; T0=$NOW
if lab_base; then
  nowms; say "note base lab up in $((NOW - T0)) ms"
  for opt in ${o.options.join(' ')}; do run_opt $opt; done
else
  say "error base lab setup failed (namespaces or echo servers)"; tail -n 5 $L/rs*.log
fi
say done
`;
}

// ---------------------------------------------------------------------------------------------
// Results

export interface BatchReport {
  batch: string;
  total: number;
  /** Sessions healthy when the window began. */
  atStart: number;
  survived: number;
  maxStallMs: number;
  p50StallMs: number;
  /** The earliest reply of any session after the stall mark (the kill, the preempt), ms after it. */
  firstReplyMs?: number;
  reasons: Record<string, number>;
  lost: unknown[];
  gaps: Record<string, Array<[number, number]>>;
}

export interface WindowReport {
  name: string;
  since: number;
  windowMs: number;
  batches: BatchReport[];
}

export interface OptionResult {
  option: SyncOption;
  /** Set when the option's run failed before the end. */
  error: string | undefined;
  notes: string[];
  events: Record<string, number>;
  /** "d2 before-kill" -> { ESTABLISHED: 120 } */
  conns: Record<string, Record<string, number>>;
  opened: Record<string, { ok: number; failed: number; ms: number }>;
  failover: WindowReport | undefined;
  failback: WindowReport | undefined;
  /** Kill -> d2's (first) transition to master, from d2's log. */
  failoverMs: number | undefined;
  /** d1's duet start -> its transition to master (preempt_delay included), from d1's log. */
  preemptMs: number | undefined;
  /** Survived / healthy at the start, over all batches of the window, in %. */
  failoverPct: number | undefined;
  failbackPct: number | undefined;
  failoverStallMs: number | undefined;
  failbackStallMs: number | undefined;
}

export interface SurvivalResult {
  mode: Mode;
  vm: VmResult;
  options: OptionResult[];
}

function pct(w: WindowReport | undefined): number | undefined {
  if (!w) return undefined;
  const start = w.batches.reduce((s, b) => s + b.atStart, 0);
  const ok = w.batches.reduce((s, b) => s + b.survived, 0);
  return start === 0 ? 0 : Math.round((1000 * ok) / start) / 10;
}

/** The longest stall of a surviving session (undefined: none survived). */
function maxStall(w: WindowReport | undefined): number | undefined {
  const s = w?.batches.filter((b) => b.survived > 0).map((b) => b.maxStallMs) ?? [];
  return s.length ? Math.max(...s) : undefined;
}

/** Reads the "@@" lines of a job's stdout. */
export function parseSurvival(stdout: string): OptionResult[] {
  const byOpt = new Map<string, OptionResult & { logs: Array<{ node: string; rec: Record<string, unknown> }> }>();
  const get = (opt: string) => {
    let r = byOpt.get(opt);
    if (!r) {
      r = {
        option: opt as SyncOption, error: undefined, notes: [], events: {}, conns: {}, opened: {}, failover: undefined, failback: undefined,
        failoverMs: undefined, preemptMs: undefined, failoverPct: undefined, failbackPct: undefined, failoverStallMs: undefined, failbackStallMs: undefined, logs: [],
      };
      byOpt.set(opt, r);
    }
    return r;
  };
  const ended = new Set<string>();
  const globalNotes: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^@@(\w+) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, kind, rest = ''] = m;
    const sp = rest.indexOf(' ');
    const opt = sp < 0 ? rest : rest.slice(0, sp);
    const tail = sp < 0 ? '' : rest.slice(sp + 1);
    switch (kind) {
      case 'begin': get(opt); break;
      case 'end': ended.add(opt); break;
      case 'error': get(opt).error = tail; break;
      case 'note':
        if ((OPTIONS as readonly string[]).includes(opt)) get(opt).notes.push(tail);
        else globalNotes.push(rest);
        break;
      case 'event': {
        const [name, v] = tail.split(' ');
        if (name) get(opt).events[name] = Number(v);
        break;
      }
      case 'conns': {
        const [node, when, ...states] = tail.split(' ');
        const c: Record<string, number> = {};
        for (const s of states) {
          const [k, v] = s.split('=');
          if (k && v) c[k] = Number(v);
        }
        get(opt).conns[`${node} ${when}`] = c;
        break;
      }
      case 'client': {
        let j: Record<string, unknown>;
        try {
          j = JSON.parse(tail) as Record<string, unknown>;
        } catch {
          break;
        }
        const r = get(opt);
        if (j['ev'] === 'opened') r.opened[String(j['batch'])] = { ok: Number(j['ok']), failed: Number(j['failed']), ms: Number(j['ms']) };
        if (j['ev'] === 'report' && j['name'] === 'kill') r.failover = j as unknown as WindowReport;
        if (j['ev'] === 'report' && j['name'] === 'failback') r.failback = j as unknown as WindowReport;
        break;
      }
      case 'log': {
        const sp2 = tail.indexOf(' ');
        try {
          get(opt).logs.push({ node: tail.slice(0, sp2), rec: JSON.parse(tail.slice(sp2 + 1)) as Record<string, unknown> });
        } catch {
          /* a torn line from a killed process */
        }
        break;
      }
      default:
        break;
    }
  }
  const out: OptionResult[] = [];
  for (const [opt, r] of byOpt) {
    if (!r.error && !ended.has(opt)) r.error = 'the run stopped before its end';
    r.notes.push(...globalNotes.filter((n) => n.startsWith(`${opt} `)).map((n) => n.slice(opt.length + 1)));
    const masterAt = (node: string, after: number): number | undefined =>
      r.logs
        .filter((l) => l.node === node && l.rec['msg'] === 'transition' && l.rec['to'] === 'master')
        .map((l) => Date.parse(String(l.rec['time'])))
        .filter((t) => t >= after)
        .sort((x, y) => x - y)[0];
    const kill = r.events['kill'];
    const start = r.events['d1-start'];
    const fo = kill === undefined ? undefined : masterAt('d2', kill);
    const fb = start === undefined ? undefined : masterAt('d1', start);
    r.failoverMs = fo === undefined || kill === undefined ? undefined : fo - kill;
    r.preemptMs = fb === undefined || start === undefined ? undefined : fb - start;
    r.failoverPct = pct(r.failover);
    r.failbackPct = pct(r.failback);
    r.failoverStallMs = maxStall(r.failover);
    r.failbackStallMs = maxStall(r.failback);
    const { logs: _logs, ...plain } = r;
    out.push(plain);
  }
  return out;
}

/** Boots one VM for `o.mode` and runs every option in it. */
export async function runSurvival(o: SurvivalOptions): Promise<SurvivalResult> {
  const n = (o.options ?? OPTIONS).length;
  const vm = await runInVm(survivalJob(o), { timeoutMs: Math.max(300_000, n * 360_000), memMb: 1024 });
  return { mode: o.mode, vm, options: parseSurvival(vm.stdout) };
}

/**
 * A result from a saved job output (DUET_VM_DUMP of the test or the bench) instead of a VM run:
 * for re-reading figures and tuning assertions without booting anything.
 */
export function replaySurvival(mode: Mode, stdout: string): SurvivalResult {
  const vm: VmResult = { code: /^@@done$/m.test(stdout) ? 0 : 1, stdout, stderr: '', bootMs: 0, totalMs: 0, console: '', logs: '' };
  return { mode, vm, options: parseSurvival(stdout) };
}

/** "ESTABLISHED=120 FIN_WAIT=2" or "none". */
export function statesText(c: Record<string, number> | undefined): string {
  if (!c) return '-';
  const e = Object.entries(c);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(' ') : 'none';
}

/** One line per option, for logs. */
export function describe(mode: Mode, r: OptionResult): string {
  const f = (v: number | undefined, unit = ''): string => (v === undefined ? '-' : `${v}${unit}`);
  return `${mode.toUpperCase()} ${r.option}: failover survived ${f(r.failoverPct, '%')} (max stall ${f(r.failoverStallMs, ' ms')}, failover ${f(r.failoverMs, ' ms')}), ` +
    `failback survived ${f(r.failbackPct, '%')} (max stall ${f(r.failbackStallMs, ' ms')}, d1 start to master ${f(r.preemptMs, ' ms')}); ` +
    `backup before kill: ${statesText(r.conns['d2 before-kill'])}; d1 at preempt: ${statesText(r.conns['d1 at-preempt'])}` +
    (r.error ? `; ERROR: ${r.error}` : '');
}
