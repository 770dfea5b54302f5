// The keepalived.conf reader: blocks, comments, includes with globs (through an injected
// in-memory file system, matched by the same glob code the CLI uses on disk), @conditional
// lines, $parameters, and errors that name file:line.
import test from 'ava';
import { parseKeepalived, decomment, tokenize, type ConfReader, type KaNode } from '../../src/import/keepalived-parse.js';
import { expandBraces, glob } from '../../src/import/glob.js';
import { posix } from 'node:path';

/** An in-memory file tree: absolute path → text. */
function memReader(files: Record<string, string>): ConfReader & { reads: string[] } {
  const reads: string[] = [];
  const dirs = (q: string): string[] => {
    const p = posix.normalize(q);
    const pre = p.endsWith('/') ? p : `${p}/`;
    const names = new Set<string>();
    for (const f of Object.keys(files)) if (f.startsWith(pre)) names.add(f.slice(pre.length).split('/')[0]!);
    return [...names];
  };
  return {
    reads,
    read: (p) => { reads.push(p); return files[posix.normalize(p)] ?? new Error('no such file'); },
    glob: (pattern) => glob(pattern, {
      list: (d) => { const n = dirs(d); return n.length ? n : undefined; },
      exists: (p) => posix.normalize(p) in files || dirs(p).length > 0,
    }),
  };
}

/** keyword args… per node, nested with indentation, with line numbers. */
function show(nodes: KaNode[], depth = 0): string[] {
  return nodes.flatMap((n) => [
    `${'  '.repeat(depth)}${n.keyword}${n.args.length ? ` ${n.args.join('|')}` : ''} @${n.at.file.split('/').pop()!}:${n.at.line}`,
    ...(n.children ? show(n.children, depth + 1) : []),
  ]);
}

test('blocks in any layout, comments, quotes, and file:line of each keyword', (t) => {
  const r = parseKeepalived('/k/keepalived.conf', { reader: memReader({ '/k/keepalived.conf': [
    '! Configuration File',
    'vrrp_instance VI_1 {   # trailing comment',
    '  interface eth0',
    '  virtual_ipaddress { 192.0.2.1/24 dev eth0 }',
    '  notify_master "/bin/echo a # b ! c"',
    '  priority 100 ! bang comment',
    '}',
    'vrrp_sync_group G1',
    '{',
    '  group { VI_1',
    '  VI_2 } notify "/x y"',
    '}',
    'global_defs { router_id a\\#b }',
  ].join('\n') }) });
  t.deepEqual(r.errors, []);
  t.deepEqual(show(r.nodes), [
    'vrrp_instance VI_1 @keepalived.conf:2',
    '  interface eth0 @keepalived.conf:3',
    '  virtual_ipaddress @keepalived.conf:4',
    '    192.0.2.1/24 dev|eth0 @keepalived.conf:4',
    '  notify_master /bin/echo a # b ! c @keepalived.conf:5',
    '  priority 100 @keepalived.conf:6',
    'vrrp_sync_group G1 @keepalived.conf:8',
    '  group @keepalived.conf:10',
    '    VI_1 @keepalived.conf:10',
    '    VI_2 @keepalived.conf:11',
    '  notify /x y @keepalived.conf:11',
    'global_defs @keepalived.conf:13',
    '  router_id a#b @keepalived.conf:13',
  ]);
});

test('decomment and tokenize follow keepalived: quotes protect, escapes unescape', (t) => {
  t.deepEqual(decomment('  a "b # c" # d'), { text: 'a "b # c"', unterminatedQuote: false });
  t.deepEqual(decomment('a \\! b ! c'), { text: 'a ! b', unterminatedQuote: false });
  t.deepEqual(decomment('a "b'), { text: 'a "b', unterminatedQuote: true });
  t.deepEqual(tokenize('x "a b"c {d}').map((k) => k.text), ['x', 'a bc', '{', 'd', '}']);
});

test('include: globs relative to the including file, in sorted order, nested', (t) => {
  const reader = memReader({
    '/etc/keepalived/keepalived.conf': 'global_defs {\n  router_id r\n}\ninclude conf.d/*.conf\ninclude /abs/{one,two}.conf\n',
    '/etc/keepalived/conf.d/20-b.conf': 'vrrp_instance B {\n}\n',
    '/etc/keepalived/conf.d/10-a.conf': 'vrrp_instance A {\n  include ../sub/vips\n}\n',
    '/etc/keepalived/conf.d/.hidden.conf': 'bogus\n',
    '/etc/keepalived/conf.d/notes.txt': 'bogus\n',
    '/etc/keepalived/sub/vips': '\n\n  virtual_ipaddress { 192.0.2.5 }\n',
    '/abs/two.conf': 'two\n',
    '/abs/one.conf': 'one\n',
  });
  const r = parseKeepalived('/etc/keepalived/keepalived.conf', { reader });
  t.deepEqual(r.errors, []);
  t.deepEqual(show(r.nodes), [
    'global_defs @keepalived.conf:1',
    '  router_id r @keepalived.conf:2',
    'vrrp_instance A @10-a.conf:1',
    '  virtual_ipaddress @vips:3',
    '    192.0.2.5 @vips:3',
    'vrrp_instance B @20-b.conf:1',
    'one @one.conf:1',
    'two @two.conf:1',
  ]);
  t.deepEqual(expandBraces('/a/{x,y{1,2}}.c'), ['/a/x.c', '/a/y1.c', '/a/y2.c']);
});

test('include errors: no match, unreadable, a loop; each with the including file:line', (t) => {
  const r = parseKeepalived('/k/a.conf', { reader: memReader({
    '/k/a.conf': 'x\ninclude none/*.conf\ninclude b.conf\n',
    '/k/b.conf': 'include a.conf\n',
  }) });
  t.is(r.errors[0]!.message, 'no file matches /k/none/*.conf');
  t.deepEqual(r.errors[0]!.at, { file: '/k/a.conf', line: 2 });
  t.true(r.errors.some((e) => /nested more than 32 deep/.test(e.message)));
  const missing = parseKeepalived('/k/nope.conf', { reader: memReader({}) });
  t.deepEqual(missing.errors.map((e) => e.message), ['cannot read /k/nope.conf: no such file']);
});

test('@id and @^id lines follow the config id; a bare @id is dropped', (t) => {
  const text = '@high priority 170\n@low priority 85\n@^high weight 1\n@high\n';
  const of = (configId?: string): string[] => show(parseKeepalived('/c', { reader: memReader({ '/c': text }), ...(configId !== undefined ? { configId } : {}) }).nodes);
  t.deepEqual(of('high'), ['priority 170 @c:1']);
  t.deepEqual(of('low'), ['priority 85 @c:2', 'weight 1 @c:3']);
  t.deepEqual(of(), ['weight 1 @c:3']);
});

test('$NAME definitions: substitution, ${NAME}, multi-line, later redefinition', (t) => {
  const text = [
    '$IF=eth0',
    '$VIPS=192.0.2.1 \\',
    '  192.0.2.2 \\',
    '  192.0.2.3',
    'vrrp_instance V {',
    '  interface $IF',
    '  label ${IF}:1 $UNDEFINED',
    '  virtual_ipaddress {',
    '    $VIPS',
    '  }',
    '}',
    '$IF = eth1',
    'x $IF',
  ].join('\n');
  const r = parseKeepalived('/c', { reader: memReader({ '/c': text }) });
  t.deepEqual(r.errors, []);
  t.deepEqual(show(r.nodes), [
    'vrrp_instance V @c:5',
    '  interface eth0 @c:6',
    '  label eth0:1|$UNDEFINED @c:7',
    '  virtual_ipaddress @c:8',
    '    192.0.2.1 @c:9',
    '    192.0.2.2 @c:9',
    '    192.0.2.3 @c:9',
    'x eth1 @c:13',
  ]);
});

test('unbalanced braces and quotes are errors at their file:line', (t) => {
  const r = parseKeepalived('/c', { reader: memReader({ '/c': 'a {\n  b "x\n}\n}\nc {\n' }) });
  t.deepEqual(r.errors.map((e) => `${e.at.line} ${e.keyword}: ${e.message}`), [
    '2 b: unterminated quote',
    '4 }: closes a block that was not opened',
    '5 c: block not closed (missing })',
  ]);
});

test('~SEQ and ~LST loops are refused with their file:line rather than guessed', (t) => {
  const r = parseKeepalived('/c', { reader: memReader({ '/c': 'a\n~SEQ(i, 1, 3) real_server 10.0.0.$i 80 {}\n' }) });
  t.deepEqual(r.errors.map((e) => `${e.at.line} ${e.keyword}: ${e.message}`), ['2 ~SEQ: keepalived ~SEQ/~LST loops are not supported by duet import: expand them by hand']);
});

test('glob components: *, ?, [...], [!...], escapes; hidden files need a leading dot', (t) => {
  const names = ['a.conf', 'b.conf', 'ab.conf', '.h.conf', 'c1.cfg', 'c2.cfg', 'c9.cfg', 'x*y'];
  const fs = { list: (d: string) => (d === '/d' ? names : undefined), exists: (p: string) => p === '/d' || names.some((n) => p === `/d/${n}`) };
  t.deepEqual(glob('/d/*.conf', fs), ['/d/a.conf', '/d/ab.conf', '/d/b.conf']);
  t.deepEqual(glob('/d/?.conf', fs), ['/d/a.conf', '/d/b.conf']);
  t.deepEqual(glob('/d/c[12].cfg', fs), ['/d/c1.cfg', '/d/c2.cfg']);
  t.deepEqual(glob('/d/c[!12].cfg', fs), ['/d/c9.cfg']);
  t.deepEqual(glob('/d/.*.conf', fs), ['/d/.h.conf']);
  t.deepEqual(glob('/d/x\\*y', fs), ['/d/x*y']);
  t.deepEqual(glob('/d/none*', fs), []);
  t.deepEqual(glob('/nodir/*.conf', fs), []);
});
