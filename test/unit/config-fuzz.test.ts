// Config properties (fast-check, fixed seeds): parseConfig never throws, every issue points
// inside the file, valid generated instances load with their values intact, one edit to the
// shipped example is either accepted or reported with a position, and so is every shipped
// example with its text mutated (loaded with the script checks on).
import test from 'ava';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import { formatIssue, parseConfig, type ConfigIssue } from '../../src/config/load.js';
import type { ScriptHost } from '../../src/config/script-check.js';

function inside(text: string, issues: readonly ConfigIssue[]): boolean {
  const lines = text.split('\n').length;
  return issues.every((i) => i.line >= 1 && i.line <= lines && i.col >= 1 && i.message.length > 0);
}

test('arbitrary text: never throws, issues point inside the file', (t) => {
  t.notThrows(() => fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      const r = parseConfig(text, 'f.yaml');
      return r.ok || inside(text, r.error);
    }),
    { numRuns: 1000, seed: 2119 },
  ));
});

test('arbitrary YAML data: never throws, issues point inside the file', (t) => {
  t.notThrows(() => fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
      const text = stringify(v);
      const r = parseConfig(text, 'f.yaml');
      return r.ok || inside(text, r.error);
    }),
    { numRuns: 500, seed: 5798 },
  ));
});

const example = parseYaml(readFileSync('conf/duet.yaml', 'utf8')) as Record<string, unknown>;

/** Paths of every node in a plain JS tree. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}
const examplePaths = paths(example).filter((p) => p.length > 0);

function setAt(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
  return copy;
}

test('one edit to the example: accepted, or each issue positioned with a path', (t) => {
  const edit = fc.record({
    path: fc.constantFrom(...examplePaths),
    value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom('', 'x', '192.0.2.1/24', 'eth0')),
  });
  t.notThrows(() => fc.assert(
    fc.property(edit, ({ path, value }) => {
      const text = stringify(setAt(example, path, value));
      const r = parseConfig(text, 'f.yaml');
      if (r.ok) return true;
      return inside(text, r.error) && r.error.every((i) => i.path !== '' || formatIssue(i).startsWith('f.yaml:1:1:'));
    }),
    { numRuns: 500, seed: 3768 },
  ));
});

test('valid generated instances load with their values', (t) => {
  const inst = fc.record({
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 1, max: 255 }),
    version: fc.constantFrom(2, 3),
    advCs: fc.integer({ min: 1, max: 4095 }),
    preemptDelay: fc.integer({ min: 0, max: 1000 }),
    octet: fc.integer({ min: 1, max: 254 }),
    prefix: fc.integer({ min: 1, max: 32 }),
  });
  t.notThrows(() => fc.assert(
    fc.property(inst, (g) => {
      // v2 wants whole seconds: map the centiseconds onto 1..40 s.
      const adv = g.version === 2 ? Math.ceil(g.advCs / 100) : g.advCs / 100;
      const text = stringify({
        vrrp: {
          instances: [{
            name: 'VI_1', interface: 'eth0', vrid: g.vrid, priority: g.priority, version: g.version,
            advert_int: adv, preempt_delay: g.preemptDelay, virtual_ipaddress: [`10.0.0.${g.octet}/${g.prefix}`],
          }],
        },
      });
      const r = parseConfig(text, 'f.yaml');
      if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
      const i = r.value.vrrp.instances[0];
      return i !== undefined && i.vrid === g.vrid && i.priority === g.priority && i.version === g.version
        && i.adverIntCs === Math.round(adv * 100) && i.preemptDelayMs === g.preemptDelay * 1000
        && i.vips[0]?.address === `10.0.0.${g.octet}` && i.vips[0]?.prefixLen === g.prefix;
    }),
    { numRuns: 500, seed: 3768 },
  ));
});

// Every shipped example, its text mutated (characters replaced, inserted, deleted; a line cut),
// loaded with a script host (the load-time script checks see whatever the edit made of the
// commands): never throws, and every issue points inside the file.
const CONF_FILES = readdirSync('conf').filter((f) => f.endsWith('.yaml')).sort();
/** Everything is a root-owned directory: every command gets a script issue ("is not a regular file"), to be positioned. */
const allDirectories: ScriptHost = {
  fs: {
    lstat: () => ({ uid: 0, gid: 0, mode: 0o040755 }),
    readlink: () => { throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' }); },
  },
  lookupUser: (spec) => (spec === 'nobody' ? { ok: true, value: { uid: 65534, gid: 65534 } } : { ok: false, error: `no user '${spec}' in /etc/passwd` }),
};
for (const f of CONF_FILES) {
  test(`conf/${f} with its text mutated: never throws, issues inside the file`, (t) => {
    const original = readFileSync(`conf/${f}`, 'utf8');
    const edits = fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete', 'cutline'), fc.constantFrom(' ', ':', '-', '[', ']', '{', '}', '#', '\n', '/', '0', 'x', "'", '"', '&a', '*a', '\t')), { minLength: 1, maxLength: 3 });
    t.notThrows(() => fc.assert(
      fc.property(edits, (es) => {
        let text = original;
        for (const [at, how, ch] of es) {
          const i = at % text.length;
          if (how === 'replace') text = text.slice(0, i) + ch + text.slice(i + 1);
          else if (how === 'insert') text = text.slice(0, i) + ch + text.slice(i);
          else if (how === 'delete') text = text.slice(0, i) + text.slice(i + 1);
          else { const end = text.indexOf('\n', i); text = text.slice(0, i) + (end < 0 ? '' : text.slice(end)); }
        }
        const r = parseConfig(text, 'f.yaml', { scriptHost: allDirectories });
        return r.ok || inside(text, r.error);
      }),
      { numRuns: 150, seed: 4213 },
    ));
  });
}
