// Each Debian keepalived sample (the keepalived package installs them under
// /usr/share/doc/keepalived/samples; scripts/setup.sh installs the package): the import runs,
// reports exactly the keywords listed here as untranslated (by line), and its result loads with
// duet's config loader unless the only thing missing is a VRRP instance (a duet config needs
// one; the IPVS-only samples have none). docs/import-keepalived.md has the same table with the
// reasons. Programs named without a path resolve through a fixed table, so the result does not
// depend on what this host has installed; @conditional lines use config id 'high'.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { importKeepalived, type ImportStatus } from '../../src/import/keepalived.js';
import { fsReader } from '../../src/import/node-reader.js';
import { parseConfig } from '../../src/config/load.js';

const DIR = '/usr/share/doc/keepalived/samples';

const EXPECTED: Record<string, { status: ImportStatus; untranslated: string[] }> = {
  'HTTP_GET.port': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout'] },
  'IPv6': { status: 'complete', untranslated: [] },
  'PING_CHECK': { status: 'partial', untranslated: ['5 notification_email', '8 notification_email_from', '9 smtp_server', '10 smtp_connect_timeout'] },
  'SMTP_CHECK': { status: 'partial', untranslated: ['16 notification_email', '19 notification_email_from', '20 smtp_server', '21 smtp_connect_timeout'] },
  'SSL_GET': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout', '19 authentication'] },
  'UDP_CHECK': { status: 'partial', untranslated: ['5 notification_email', '8 notification_email_from', '9 smtp_server', '10 smtp_connect_timeout'] },
  'conditional_conf': { status: 'partial', untranslated: ['3 net_namespace', '23 use_vmac'] },
  'fwmark': { status: 'complete', untranslated: [] },
  'inhibit': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout'] },
  'misc_check': { status: 'partial', untranslated: ['5 notification_email', '8 notification_email_from', '9 smtp_server', '10 smtp_connect_timeout'] },
  'misc_check_arg': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout'] },
  'quorum': { status: 'partial', untranslated: ['29 alpha', '30 omega'] },
  'sample': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout'] },
  'status_code': { status: 'partial', untranslated: ['5 notification_email', '8 notification_email_from', '9 smtp_server', '10 smtp_connect_timeout'] },
  'track_interface': { status: 'partial', untranslated: ['7 static_routes', '28 virtual_routes'] },
  'virtual_server_group': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout'] },
  'virtualhost': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout'] },
  'vrrp': { status: 'partial', untranslated: ['4 notification_email', '7 notification_email_from', '8 smtp_server', '9 smtp_connect_timeout', '17 smtp_alert', '32 192.168.200.18', '38 smtp_alert', '52 smtp_alert', '69 smtp_alert'] },
  'vrrp.localcheck': { status: 'partial', untranslated: ['24 vrrp_script', '25 script', '30 vrrp_script', '31 script', '36 vrrp_script', '37 script', '58 chk_http_port', '59 chk_https_port', '60 chk_smtp_port', '79 chk_http_port', '80 chk_https_port', '81 chk_smtp_port'] },
  'vrrp.lvs_syncd': { status: 'partial', untranslated: ['3 vrrp_sync_group', '4 VI_2', '5 VI_3'] },
  'vrrp.routes': { status: 'partial', untranslated: ['7 static_routes', '25 virtual_routes'] },
  'vrrp.rules': { status: 'partial', untranslated: ['9 static_rules', '24 virtual_rules'] },
  'vrrp.scripts': { status: 'partial', untranslated: ['19 smtp_alert'] },
  'vrrp.static_ipaddress': { status: 'partial', untranslated: ['7 static_ipaddress', '21 virtual_routes'] },
  'vrrp.sync': { status: 'complete', untranslated: [] },
};

const present = existsSync(DIR);

test('the Debian samples are installed (apt-get install keepalived) and all are listed here', (t) => {
  t.true(present, `${DIR} is missing: install the keepalived package (scripts/setup.sh does)`);
  if (!present) return;
  t.deepEqual(readdirSync(DIR).filter((f) => f.startsWith('keepalived.conf.')).map((f) => f.slice('keepalived.conf.'.length)).sort(), Object.keys(EXPECTED).sort());
});

for (const [name, want] of Object.entries(EXPECTED)) {
  test(`sample keepalived.conf.${name}`, (t) => {
    if (!present) { t.fail(`${DIR} is missing: install the keepalived package (scripts/setup.sh does)`); return; }
    const file = `${DIR}/keepalived.conf.${name}`;
    const r = importKeepalived(file, { reader: fsReader, configId: 'high', resolveProgram: (p) => ({ killall: '/usr/bin/killall' } as Record<string, string>)[p] });
    t.deepEqual(r.errors, []);
    t.deepEqual(r.untranslated.map((u) => `${u.at.line} ${u.keyword}`), want.untranslated);
    t.true(r.untranslated.every((u) => u.at.file === file && u.why.length > 0));
    t.is(r.status, want.status);
    const c = parseConfig(r.yaml, `${name}.yaml`);
    // IPVS-only samples load too: duet runs a checker-only director (no VRRP), as keepalived --check.
    t.true(c.ok, c.ok ? 'loads' : c.error.map((e) => `${e.line} ${e.path}: ${e.message}`).join('\n'));
  });
}
