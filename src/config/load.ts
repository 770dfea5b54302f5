// YAML text → Config, or issues that name file, line, column and field path:
//   conf/duet.yaml:14:5 vrrp.instances[0].priority: must be 1..255, got 300
// Positions come from yaml's CST ranges (parseDocument + LineCounter); each zod issue path is
// walked through the document: a bad value points at the value, an unknown field at its key,
// a missing field at the mapping that should hold it.

import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { DuetError } from '../core/errors.js';
import { err, ok, type Result } from '../core/result.js';
import { humanErrorMap, knownKeys, show, unknownFieldMessage } from './messages.js';
import { isSecretField, isSecretPath } from '../core/redact.js';
import { configSchema, RESERVED_KEYS, type Config } from './schema.js';
import { readKeyFiles } from './key-file.js';
import { checkConfigScripts, type ScriptHost } from './script-check.js';

export interface LoadOptions {
  /**
   * Check the programs the config names against this file system and user database (script
   * security, scripts.user); the daemon and `duet check` pass the real one. Without it only the
   * text is checked.
   */
  scriptHost?: ScriptHost;
  /**
   * With scriptHost: a program or script user this host does not have goes here instead of
   * failing the load (`duet check` of a file meant for another host warns); the daemon refuses it.
   */
  warn?: (issue: ConfigIssue) => void;
}

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the file could not be read at all. */
  line: number;
  /** 1-based; 0 with line 0. */
  col: number;
  /** Field path as written in YAML, e.g. "vrrp.instances[0].priority"; "" for the document or a syntax error. */
  path: string;
  message: string;
}

/** "file:line:col path: message" (or "file:line:col: message" without a path). */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}${i.path ? ` ${i.path}` : ''}: ${i.message}`;
}

/** For callers that throw: carries every issue; the message lists them one per line. */
export class ConfigError extends DuetError {
  readonly code = 'DUET_E_CONFIG';
  constructor(readonly issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(issues.map(formatIssue).join('\n') || 'invalid configuration', options);
  }
}

type Seg = PropertyKey;

/** "vrrp.instances[0].priority"; odd keys quoted: scripts["my script"]. */
export function formatPath(path: readonly Seg[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else {
      const k = String(s);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k)) out += out ? `.${k}` : k;
      else out += `[${JSON.stringify(k)}]`;
    }
  }
  return out;
}

export type Target = 'value' | 'key';

/**
 * Walk `path` through the document. Returns the source offset to report and how much of the
 * path exists in the YAML (a bare string expanded by the schema into {name: ...} stops early,
 * and the path is shown only that far).
 */
export function locate(doc: Document.Parsed, path: readonly Seg[], target: Target): { offset: number; depth: number } {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (let d = 0; d < path.length; d++) {
    while (isAlias(node)) node = node.resolve(doc);
    const seg = path[d];
    const last = d === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return { offset: rangeStart(node) ?? offset, depth: path.length }; // missing key: the map
      const keyStart = rangeStart(pair.key) ?? offset;
      const v = pair.value;
      const empty = v === null || (isScalar(v) && v.value === null && !v.source);
      if (last && (target === 'key' || empty)) return { offset: keyStart, depth: path.length };
      if (empty) return { offset: keyStart, depth: d + 1 };
      node = v;
      offset = rangeStart(v) ?? keyStart;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return { offset: rangeStart(node) ?? offset, depth: path.length };
      node = item;
      offset = rangeStart(item) ?? offset;
    } else {
      // A scalar the schema expanded (or a wrong type): report it, and the path up to it.
      return { offset, depth: d };
    }
  }
  return { offset, depth: path.length };
}

function rangeStart(n: unknown): number | undefined {
  return (n as Node | null | undefined)?.range?.[0];
}

/** Parse YAML text as a duet config. `file` is only used in issues. */
/** The issue for a file with no settings: `duet check` and `duet run` refuse it with this. */
export const NOTHING_CONFIGURED = 'nothing is configured: the file has only comments or is empty (the packaged /etc/duet/duet.yaml is the commented example: see duet.yaml(5))';

export function parseConfig(text: string, file: string, o: LoadOptions = {}): Result<Config, ConfigIssue[]> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const pos = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);

  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    return err(
      syntax
        .map((e) => ({ file, ...pos(e.pos[0]), path: '', message: `invalid YAML: ${e.message}` }))
        .sort(byPosition),
    );
  }

  // toJS throws on an alias without an anchor (and on alias bombs) and stringifies collection
  // keys: report those as YAML errors.
  const unusable: ConfigIssue[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (pair.key !== null && !isScalar(pair.key)) {
        unusable.push({ file, ...pos(rangeStart(pair.key) ?? 0), path: '', message: 'invalid YAML: mapping keys must be plain names' });
      }
      // A secret is text as written: `password: 0012` is "0012", not the number 12.
      if (isScalar(pair.key) && isSecretField(pair.key.value) && isScalar(pair.value) && pair.value.type === 'PLAIN'
        && ['number', 'bigint', 'boolean'].includes(typeof pair.value.value) && typeof pair.value.source === 'string') {
        pair.value.value = pair.value.source;
      }
    },
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        unusable.push({ file, ...pos(alias.range?.[0] ?? 0), path: '', message: `invalid YAML: alias *${alias.source} has no anchor before it` });
      }
    },
  });
  if (unusable.length > 0) return err(unusable.sort(byPosition));
  // Nothing but comments (or nothing at all): the package ships /etc/duet/duet.yaml commented out,
  // so a fresh install does nothing until configured. Say so rather than "expected a mapping".
  if (doc.contents === null) {
    return err([{ file, line: 1, col: 1, path: '', message: NOTHING_CONFIGURED }]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return err([{ file, line: 1, col: 1, path: '', message: `invalid YAML: ${(e as Error).message}` }]);
  }

  // Known keys for each strict object that reported unknown ones, keyed by issue path,
  // so the per-key messages can suggest the intended name.
  const known = new Map<string, string[]>();
  const result = configSchema.safeParse(data, {
    reportInput: true,
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const keys = knownKeys(iss.inst);
        if (keys) known.set(JSON.stringify((iss.path ?? []).map(String)), keys);
      }
      return humanErrorMap(iss);
    },
  });
  const issues: ConfigIssue[] = [];
  const add = (path: readonly Seg[], message: string, target: Target): void => {
    const { offset, depth } = locate(doc, path, target);
    issues.push({ file, ...pos(offset), path: formatPath(path.slice(0, depth)), message });
  };
  if (result.success) {
    if (o.scriptHost) {
      for (const i of checkConfigScripts(data, o.scriptHost)) {
        add(i.path, i.message, 'value');
        if (i.absent && o.warn) o.warn(issues.pop()!);
      }
    }
    return issues.length === 0 ? ok(result.data) : err(issues.sort(byPosition));
  }

  for (const iss of result.error.issues as z.core.$ZodIssue[]) {
    if (iss.code === 'unrecognized_keys') {
      const keys = known.get(JSON.stringify(iss.path.map(String)));
      const reserved: readonly string[] = iss.path.length === 0 ? RESERVED_KEYS : [];
      for (const k of iss.keys) add([...iss.path, k], unknownFieldMessage(k, keys, reserved), 'key');
    } else if (iss.code === 'invalid_key') {
      add(iss.path, iss.message, 'key');
    } else {
      add(iss.path, isSecretPath(iss.path) ? withoutSecret(iss.message, (iss as { input?: unknown }).input) : iss.message, 'value');
    }
  }
  return err(dedupe(issues).sort(byPosition));
}

/**
 * A message about a secret field (auth, password, ...) without the value written there: its
 * quoted form ("got 'hunter22'") becomes its kind, and a message that still contains it is
 * replaced by one that says only where.
 */
function withoutSecret(message: string, input: unknown): string {
  if (input === null || input === undefined || typeof input === 'object' || typeof input === 'function') return message;
  const kind = `${typeof input === 'string' ? 'a string' : `a ${typeof input}`} (not shown)`;
  const m = message.split(show(input)).join(kind);
  const text = String(input).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text !== '' && new RegExp(`(^|[^A-Za-z0-9])${text}($|[^A-Za-z0-9])`).test(m) ? 'invalid value (not shown)' : m;
}

/** Read and parse a config file; a read failure is one issue at line 0. */
export async function loadConfig(file: string, o: LoadOptions = {}): Promise<Result<Config, ConfigIssue[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String((e as Error).message ?? e);
    return err([{ file, line: 0, col: 0, path: '', message: `cannot read: ${reason}` }]);
  }
  const r = parseConfig(text, file, o);
  if (!r.ok) return r;
  const issues = await attachKeys(r.value, text, file);
  return issues.length ? err(issues) : r;
}

/**
 * Read every udp_auth key file the config names into its instances (keys never leave the
 * config: not logged, not in status). A missing, unsafe or malformed file is an issue at its
 * key_file line, so `duet check`, start and reload all refuse it the same way.
 */
async function attachKeys(cfg: Config, text: string, file: string): Promise<ConfigIssue[]> {
  const files = cfg.vrrp.instances.flatMap((i) => (i.udpAuth ? [i.udpAuth.keyFile] : []));
  if (!files.length) return [];
  const read = await readKeyFiles(files);
  const issues: ConfigIssue[] = [];
  let doc: { doc: Document.Parsed; lc: LineCounter } | undefined;
  cfg.vrrp.instances.forEach((i, n) => {
    if (!i.udpAuth) return;
    const k = read.get(i.udpAuth.keyFile);
    if (k?.ok) { i.udpAuth.keys = k.value; return; }
    if (!doc) { const lc = new LineCounter(); doc = { doc: parseDocument(text, { lineCounter: lc }), lc }; }
    const path = ['vrrp', 'instances', n, 'udp_auth', 'key_file'];
    const { offset, depth } = locate(doc.doc, path, 'value');
    for (const message of k?.error ?? ['not read']) issues.push({ file, ...doc.lc.linePos(offset), path: formatPath(path.slice(0, depth)), message });
  });
  return dedupe(issues).sort(byPosition);
}

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return a.line - b.line || a.col - b.col;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = formatIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
