// keepalived blocks → duet config: one keepalived.conf using most of what the import maps is
// translated to the exact duet sections expected, the YAML names each block's source in a
// comment, the result loads with duet's own config loader, and every keyword it cannot
// translate is reported with file:line and why (none dropped silently).
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { importKeepalived, IMPORT_EXIT } from '../../src/import/keepalived.js';
import { formatReport } from '../../src/import/keepalived-map.js';
import type { ConfReader } from '../../src/import/keepalived-parse.js';
import { parseConfig } from '../../src/config/load.js';

const one = (text: string): ConfReader => ({ read: (p) => (p === '/k.conf' ? text : new Error('no such file')), glob: () => [] });
const run = (text: string, resolve: Record<string, string> = {}) =>
  importKeepalived('/k.conf', { reader: one(text), resolveProgram: (p) => resolve[p] });

const FULL = `
global_defs {
  router_id lb1
  script_user nobody nogroup
  enable_script_security
  vrrp_version 3
  vrrp_garp_master_delay 2
  lvs_sync_daemon eth1 VI_1 id 7 maxlen 1400 port 8848 ttl 2 group 239.0.0.9
  lvs_timeouts tcp 900 tcpfin 120 udp 300
}
vrrp_script chk {
  script "pgrep -x nginx"
  interval 2
  timeout 1
  weight -20
  rise 2
  fall 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.5
  preempt_delay 3
  virtual_ipaddress {
    192.0.2.100/24
    192.0.2.101 dev eth0 label eth0:web
  }
  unicast_src_ip 192.0.2.11
  unicast_peer {
    192.0.2.12 min_ttl 250 max_ttl 255
  }
  track_interface {
    eth1 weight -30
    eth2
  }
  track_script {
    chk weight -10
  }
  notify_master "/etc/ka/notify.sh master 'a b'"
  garp_master_repeat 3
  garp_interval 0.01
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  version 2
  nopreempt
  authentication {
    auth_type PASS
    auth_pass 123456789
  }
  virtual_ipaddress {
    192.0.2.110
  }
}
vrrp_sync_group G {
  group {
    VI_1 VI_2
  }
  notify_backup "/etc/ka/g.sh backup"
}
virtual_server_group VSG {
  192.0.2.100-101 80
  fwmark 9
}
virtual_server group VSG {
  lb_algo wrr
  lb_kind DR
  delay_loop 10
  persistence_timeout
  real_server 192.0.2.21 80 {
    weight 3
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 2
      retry 2
      delay_before_retry 4
      connect_port 8080
      bindto 192.0.2.11
    }
  }
}
virtual_server 192.0.2.100 53 {
  protocol UDP
  lb_kind NAT
  quorum 2
  hysteresis 1
  quorum_up /bin/true
  sorry_server 192.0.2.99 53
  virtualhost www.example
  real_server 192.0.2.31 5353 {
    uthreshold 100
    lthreshold 50
    DNS_CHECK {
      type A
      name www.example
      connect_timeout 1
      delay_loop 3
    }
    HTTP_GET {
      url {
        path /a
        status_code 200 300-399
      }
      url {
        path /b
        digest 9a0364b9e99bb480dd25e1f0284c8555
        virtualhost other
      }
    }
    MISC_CHECK {
      misc_path "/usr/local/bin/chk 192.0.2.31"
      misc_timeout 4
      misc_dynamic
    }
    SMTP_CHECK {
      host {
        connect_ip 192.0.2.32
      }
      host {
        connect_port 2525
      }
    }
    UDP_CHECK {
      payload 0a 0b
      require_reply 01
    }
    FILE_CHECK {
      track_file tf
      weight 5 reverse
    }
  }
}
track_file tf {
  file /run/w
}
`;

test('a config using most keywords translates to the expected duet sections', (t) => {
  const r = run(FULL, { pgrep: '/usr/bin/pgrep' });
  t.deepEqual(r.untranslated.map(formatReport), []);
  t.is(r.status, 'complete');
  t.is(IMPORT_EXIT[r.status], 0);
  t.deepEqual(r.notes.map((n) => `${n.at.line} ${n.keyword}`), ['12 script', '20 state', '50 authentication', '68 virtual_server']);
  const y = parseYaml(r.yaml) as Record<string, unknown>;
  const common = { interval: 10, rise: 1 };
  t.deepEqual(y, {
    node: { name: 'lb1' },
    scripts: { user: 'nobody:nogroup', security: true },
    vrrp: {
      scripts: { chk: { command: ['/usr/bin/pgrep', '-x', 'nginx'], interval: 2, timeout: 1, weight: -20, rise: 2, fall: 3 } },
      instances: [
        {
          name: 'VI_1', interface: 'eth0', vrid: 51, priority: 150, version: 3, advert_int: 0.5, preempt_delay: 3,
          virtual_ipaddress: ['192.0.2.100/24', { address: '192.0.2.101', dev: 'eth0', label: 'eth0:web' }],
          unicast_src_ip: '192.0.2.11', unicast_peer: ['192.0.2.12'], min_ttl: 250, max_ttl: 255,
          track_interface: [{ name: 'eth1', weight: -30 }, 'eth2'],
          track_script: [{ name: 'chk', weight: -10 }],
          notify: { master: ['/etc/ka/notify.sh', 'master', 'a b'] },
          garp: { master_delay: 2, master_repeat: 3, interval: 10 },
        },
        {
          name: 'VI_2', interface: 'eth0', vrid: 52, version: 2, preempt: false,
          auth: { type: 'pass', password: '12345678' }, virtual_ipaddress: ['192.0.2.110'], garp: { master_delay: 2 },
        },
      ],
      sync_groups: [{ name: 'G', instances: ['VI_1', 'VI_2'], notify: { backup: ['/etc/ka/g.sh', 'backup'] } }],
    },
    sync_daemon: { interface: 'eth1', instance: 'VI_1', syncid: 7, max_packet_len: 1400, mcast_port: 8848, mcast_ttl: 2, mcast_group: '239.0.0.9' },
    lvs_timeouts: { tcp: 900, tcpfin: 120, udp: 300 },
    virtual_servers: [
      ...[{ address: '192.0.2.100', port: 80 }, { address: '192.0.2.101', port: 80 }, { fwmark: 9 }].map((id) => ({
        ...id, scheduler: 'wrr', lb_kind: 'dr', persistence_timeout: 360,
        real_servers: [{ address: '192.0.2.21', port: 80, weight: 3, inhibit_on_failure: true, checks: [
          { type: 'tcp', ...common, timeout: 2, fall: 3, retry_delay: 4, connect_port: 8080, bind_ip: '192.0.2.11' },
        ] }],
      })),
      {
        address: '192.0.2.100', port: 53, protocol: 'udp', lb_kind: 'nat', quorum: 2, hysteresis: 1, quorum_up: ['/bin/true'],
        sorry_server: { address: '192.0.2.99', port: 53 },
        real_servers: [{ address: '192.0.2.31', port: 5353, upper_threshold: 100, lower_threshold: 50, checks: [
          { type: 'dns', interval: 3, timeout: 1, rise: 1, fall: 4, retry_delay: 3, query_type: 'A', name: 'www.example' },
          { type: 'http', interval: 60, timeout: 5, rise: 1, fall: 2, retry_delay: 5, host: 'www.example', path: '/a', status: [200, '300-399'] },
          { type: 'http', interval: 60, timeout: 5, rise: 1, fall: 2, retry_delay: 5, path: '/b', digest: '9a0364b9e99bb480dd25e1f0284c8555', host: 'other' },
          { type: 'exec', interval: 60, timeout: 4, rise: 1, fall: 1, command: ['/usr/local/bin/chk', '192.0.2.31'], dynamic: true },
          { type: 'smtp', interval: 60, timeout: 5, rise: 1, fall: 2, retry_delay: 5, helo_name: 'smtpchecker.keepalived.org', connect_ip: '192.0.2.32' },
          { type: 'smtp', interval: 60, timeout: 5, rise: 1, fall: 2, retry_delay: 5, helo_name: 'smtpchecker.keepalived.org', connect_port: 2525 },
          { type: 'udp', interval: 60, timeout: 5, rise: 1, fall: 2, retry_delay: 5, payload: '0a 0b', require_reply: '01' },
          { type: 'file', file: '/run/w', weight: 5, reverse: true },
        ] }],
      },
    ],
  });
  // Each block is preceded by a comment naming its source.
  for (const c of ['# vrrp_instance VI_1 (/k.conf:19)', '# vrrp_script chk (/k.conf:11)', '# global_defs (/k.conf:2)', '# virtual_server 192.0.2.100 53 (/k.conf:85)',
    '# virtual_server group VSG (fwmark 9) (/k.conf:68)', '# vrrp_sync_group G (/k.conf:58)', '# lvs_sync_daemon (/k.conf:8)']) {
    t.true(r.yaml.includes(c), `${c} in:\n${r.yaml}`);
  }
  const loaded = parseConfig(r.yaml, 'import.yaml');
  t.true(loaded.ok, loaded.ok ? '' : loaded.error.map((e) => `${e.line} ${e.path}: ${e.message}`).join('\n'));
});

test('what duet cannot do is reported with file:line, keyword and why, and the rest still loads', (t) => {
  const r = run(`global_defs {
  notification_email { a@b }
  vrrp_strict
}
static_ipaddress { 192.0.2.1 dev eth0 }
vrrp_script s1 { script "</dev/tcp/127.0.0.1/80" }
vrrp_script s2 { script "killall -0 x" }
vrrp_instance V {
  interface eth0
  virtual_router_id 1
  use_vmac
  smtp_alert
  virtual_ipaddress {
    192.0.2.5 brd 192.0.2.255 scope global
    192.0.2.5/32
  }
  track_script { s1
    s2 }
  authentication { auth_type AH auth_pass x }
  virtual_routes { 10.0.0.0/8 via 192.0.2.1 }
  notify /etc/ka/any.sh
}
vrrp_instance NOVIP { interface eth0
  virtual_router_id 2 }
vrrp_sync_group G { group { NOVIP } }
virtual_server 192.0.2.5 80 {
  alpha
  real_server 192.0.2.9 80 { notify_up /x
    SSL_GET { url { digest 9a0364b9e99bb480dd25e1f0284c8555 } warmup 3 bind_port 9
      connect_port 443 443 } }
}`);
  t.is(r.status, 'partial');
  t.is(IMPORT_EXIT[r.status], 4);
  t.deepEqual(r.untranslated.map(formatReport), [
    '/k.conf:2: notification_email: duet sends no e-mail; run a notify hook (vrrp notify, quorum_up/quorum_down) instead',
    '/k.conf:3: vrrp_strict: duet does not enforce RFC strictness this way (it has no iptables rules and accepts v2 authentication)',
    '/k.conf:5: static_ipaddress: duet manages only the VIPs of its VRRP instances; set static addresses in the host network configuration (ifupdown, systemd-networkd)',
    "/k.conf:6: script: '<' is shell syntax and duet runs no shell",
    "/k.conf:6: vrrp_script: script 's1' not translated, so the instances tracking it do not track it",
    "/k.conf:7: script: program 'killall' is not an absolute path and was not found in PATH (duet does no PATH search)",
    "/k.conf:7: vrrp_script: script 's2' not translated, so the instances tracking it do not track it",
    '/k.conf:11: use_vmac: duet has no VMAC interfaces: the VIPs are added to the interface itself',
    '/k.conf:12: smtp_alert: duet sends no e-mail; run a notify hook (vrrp notify, quorum_up/quorum_down) instead',
    "/k.conf:14: 192.0.2.5: 'brd 192.0.2.255': duet adds a VIP with only its address, prefix, dev and label",
    "/k.conf:14: 192.0.2.5: 'scope global': duet adds a VIP with only its address, prefix, dev and label",
    '/k.conf:15: 192.0.2.5/32: duplicate of the VIP on line 14: duet lists an address once (keepalived adds it once but advertises it twice)',
    "/k.conf:17: s1: script 's1' is not defined or was not translated",
    "/k.conf:18: s2: script 's2' is not defined or was not translated",
    "/k.conf:19: auth_type: takes one value: 'auth_pass x' not read",
    '/k.conf:19: authentication: auth_type AH: duet supports PASS only (AH is deprecated, RFC 3768)',
    '/k.conf:20: virtual_routes: duet manages only the VIPs of its VRRP instances; set routes and rules in the host network configuration or in a notify hook',
    "/k.conf:21: notify: written as notify.any, but its arguments differ: keepalived appends INSTANCE|GROUP NAME STATE PRIORITY, duet NAME FROM TO REASON (lower case states): adapt the script",
    '/k.conf:23: vrrp_instance: instance NOVIP not translated: no virtual_ipaddress (duet needs at least one)',
    "/k.conf:25: NOVIP: instance 'NOVIP' is not defined or was not translated",
    '/k.conf:25: vrrp_sync_group: sync group G not translated: no translated instances',
    '/k.conf:27: alpha: duet counts a new real server healthy until its checks fail (keepalived without alpha)',
    '/k.conf:28: notify_up: duet has no per-real-server hooks; follow check changes with `duet events`',
    "/k.conf:29: warmup: takes one value: 'bind_port 9' not read",
    '/k.conf:29: url: no path: keepalived ignores this url',
    '/k.conf:29: warmup: duet starts checks at once (no random warm-up delay)',
    '/k.conf:29: SSL_GET: no url with a path: keepalived ignores this checker, so no check is written',
    "/k.conf:30: connect_port: takes one value: '443' not read",
  ]);
  const loaded = parseConfig(r.yaml, 'import.yaml');
  t.true(loaded.ok, loaded.ok ? '' : loaded.error.map((e) => `${e.line} ${e.path}: ${e.message}`).join('\n'));
  // The untranslated keywords are also listed at the top of the YAML.
  t.regex(r.yaml, /^# 28 keywords were not translated/m);
});

test('a program found in PATH is written absolute (and noted); a syntax error fails the import', (t) => {
  const r = run('vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.5 }\n notify_master "logger -t ka master"\n}\n', { logger: '/usr/bin/logger' });
  t.is(r.status, 'complete');
  t.deepEqual((parseYaml(r.yaml) as { vrrp: { instances: { notify: unknown }[] } }).vrrp.instances[0]!.notify, { master: ['/usr/bin/logger', '-t', 'ka', 'master'] });
  t.deepEqual(r.notes.map(formatReport), [
    '/k.conf:0: enable_script_security: absent: keepalived runs scripts a non-root user could change; duet refuses them (scripts.security: true, its default)',
    "/k.conf:5: notify_master: program 'logger' resolved to /usr/bin/logger (duet does no PATH search)"]);
  const bad = run('vrrp_instance V {\n interface eth0\n');
  t.is(bad.status, 'failed');
  t.is(IMPORT_EXIT[bad.status], 1);
  t.is(bad.yaml, '');
  t.deepEqual(bad.errors.map((e) => `${e.at.file}:${e.at.line}: ${e.keyword}: ${e.message}`), ['/k.conf:1: vrrp_instance: block not closed (missing })']);
});

test('what duet has one of (a script name, the sync daemon) is kept once and the rest reported', (t) => {
  const r = run(`vrrp_script s {
  script /bin/true
}
vrrp_script s {
  script /bin/false
}
global_defs {
  lvs_sync_daemon lo VI_1
}
vrrp_instance VI_1 {
  interface lo
  virtual_router_id 1
  lvs_sync_daemon_interface eth9
  virtual_ipaddress { 192.0.2.1 }
}`);
  t.deepEqual(r.untranslated.map(formatReport), [
    '/k.conf:4: vrrp_script: duplicate of vrrp_script s at /k.conf:1, which is kept',
    '/k.conf:13: lvs_sync_daemon_interface: duet runs one sync daemon, already following VI_1 (/k.conf:8)',
  ]);
  const y = parseYaml(r.yaml) as { vrrp: { scripts: Record<string, { command: string[] }> }; sync_daemon: unknown };
  t.deepEqual(y.vrrp.scripts, { s: { command: ['/bin/true'] } });
  t.deepEqual(y.sync_daemon, { interface: 'lo', instance: 'VI_1' });
});

test('extra words on a block line or a dangling lvs_timeouts word are reported', (t) => {
  const r = run(`global_defs {
  lvs_timeouts tcp 900 udp
}
vrrp_instance V extra {
  interface lo
  virtual_router_id 1
  virtual_ipaddress { 192.0.2.1 }
}
virtual_server 192.0.2.1 80 tcp {
  lb_kind DR
}`);
  t.deepEqual(r.untranslated.map(formatReport), [
    "/k.conf:2: lvs_timeouts: 'udp ': expected tcp, tcpfin or udp with seconds",
    "/k.conf:4: vrrp_instance: takes one value: 'extra' not read",
    "/k.conf:9: virtual_server: takes at most 2 words: 'tcp' not read",
  ]);
  t.deepEqual((parseYaml(r.yaml) as { lvs_timeouts: unknown }).lvs_timeouts, { tcp: 900 });
});

test("keepalived's own resets: nopreempt and preempt_delay with state MASTER, nopreempt at priority 255, preempt_delay with nopreempt", (t) => {
  const inst = (name: string, vrid: number, body: string): string =>
    `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n${body}  virtual_ipaddress { 192.0.2.${vrid} }\n}\n`;
  const r = run(inst('M', 1, '  state MASTER\n  nopreempt\n  preempt_delay 5\n') + inst('O', 2, '  priority 255\n  nopreempt\n')
    + inst('N', 3, '  nopreempt\n  preempt_delay 5\n') + inst('B', 4, '  state BACKUP\n  preempt_delay 5\n'));
  t.deepEqual(r.untranslated, []);
  const by = Object.fromEntries((parseYaml(r.yaml) as { vrrp: { instances: Record<string, unknown>[] } }).vrrp.instances.map((i) => [i['name'], [i['preempt'], i['preempt_delay']]]));
  t.deepEqual(by, { M: [undefined, undefined], O: [undefined, undefined], N: [false, undefined], B: [undefined, 5] });
  t.deepEqual(r.notes.filter((n) => /clears/.test(n.why)).map((n) => `${n.at.line} ${n.why}`), [
    '4 nopreempt not written: keepalived clears it with initial state MASTER',
    '4 preempt_delay not written: keepalived clears it with initial state MASTER',
    '9 nopreempt not written: keepalived clears it with priority 255',
    '16 preempt_delay not written: keepalived clears it with nopreempt',
  ]);
});

test('real-time keywords map to realtime; sync_group_tracking_weight is a note (duet applies the weights)', (t) => {
  const base = 'vrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n}\nvrrp_sync_group G {\n  group {\n    A\n  }\n  sync_group_tracking_weight\n}\n';
  const r = run(`global_defs {\n  vrrp_rt_priority 20\n  checker_rt_priority 10\n  vrrp_no_swap\n  checker_no_swap\n}\n${base}`);
  t.is(r.status, 'complete', r.untranslated.map(formatReport).join('\n'));
  t.deepEqual((parseYaml(r.yaml) as { realtime: unknown }).realtime, { vrrp_priority: 20, check_priority: 10, lock_memory: true });
  t.deepEqual(r.notes.map((n) => n.keyword), ['sync_group_tracking_weight']);
  const c = parseConfig(r.yaml, 'rt.yaml');
  t.true(c.ok && c.value.realtime.vrrp?.priority === 20 && c.value.realtime.check?.policy === 'rr' && c.value.realtime.lockMemory === true);
  // One of the two no_swap keywords: duet locks the whole process, said in a note.
  const half = run(`global_defs {\n  vrrp_no_swap\n}\n${base}`);
  t.deepEqual(half.notes.map((n) => `${n.at.line} ${n.keyword}`), ['2 vrrp_no_swap', '15 sync_group_tracking_weight']);
  const bad = run(`global_defs {\n  vrrp_rt_priority 100\n}\n${base}`);
  t.deepEqual(bad.untranslated.map((u) => `${u.at.line} ${u.keyword}`), ['2 vrrp_rt_priority']);
});
