// `duet import keepalived`: keepalived.conf → duet YAML. Parse (keepalived-parse.ts), map
// (keepalived-map.ts), then write one YAML document with the yaml package's Document API, each
// block preceded by a comment naming its source file:line. Pure: the reader and the program
// lookup are injected (node-reader.ts has the real ones).

import { Document, type Node, type YAMLMap } from 'yaml';
import { parseKeepalived, where, type ConfReader, type Diagnostic } from './keepalived-parse.js';
import { formatReport, mapKeepalived, type Block, type Mapped, type Report } from './keepalived-map.js';

export type ImportStatus = 'complete' | 'partial' | 'failed';

/** Exit status of `duet import`: complete, failed (nothing usable or --check failed), bad usage, partial. */
export const IMPORT_EXIT: Record<ImportStatus | 'usage', number> = { complete: 0, failed: 1, usage: 2, partial: 4 };

export interface ImportOptions {
  reader: ConfReader;
  configId?: string;
  resolveProgram?: (name: string) => string | undefined;
}

export interface ImportResult {
  status: ImportStatus;
  /** The duet config; '' when failed. */
  yaml: string;
  /** Syntax and read errors (any makes the import fail). */
  errors: Diagnostic[];
  untranslated: Report[];
  notes: Report[];
}

/** Read and translate `file`. */
export function importKeepalived(file: string, o: ImportOptions): ImportResult {
  const parsed = parseKeepalived(file, { reader: o.reader, ...(o.configId !== undefined ? { configId: o.configId } : {}) });
  if (parsed.errors.length) return { status: 'failed', yaml: '', errors: parsed.errors, untranslated: [], notes: [] };
  const mapped = mapKeepalived(parsed.nodes, { file, ...(o.resolveProgram ? { resolveProgram: o.resolveProgram } : {}) });
  return {
    status: mapped.untranslated.length ? 'partial' : 'complete',
    yaml: toYaml(mapped, file),
    errors: [],
    untranslated: mapped.untranslated,
    notes: mapped.notes,
  };
}

/** A node for `b.value` with the comment naming where it came from. */
function blockNode(doc: Document, b: Block): Node {
  const n = doc.createNode(b.value) as Node;
  n.commentBefore = ` ${b.what} (${where(b.at)})`;
  return n;
}

/** Set `key` in `map` to `value`, the comment on the key (a mapping value cannot carry one above the key). */
function setWithComment(doc: Document, map: YAMLMap, key: string, value: unknown, comment: string): void {
  const k = doc.createNode(key) as Node;
  k.commentBefore = comment;
  map.items.push(doc.createPair(k, value));
}

/** The mapped sections as a duet YAML document. */
export function toYaml(m: Mapped, file: string): string {
  const doc = new Document({});
  const root = doc.contents as YAMLMap;
  const section = (key: string, b: Block | undefined): void => {
    if (b) setWithComment(doc, root, key, doc.createNode(b.value), ` ${b.what} (${where(b.at)})`);
  };
  section('node', m.node);
  section('scripts', m.scripts);

  const vrrp = doc.createNode({}) as YAMLMap;
  if (m.vrrpScripts.length) {
    const scripts = doc.createNode({}) as YAMLMap;
    for (const s of m.vrrpScripts) setWithComment(doc, scripts, s.name, doc.createNode(s.block.value), ` ${s.block.what} (${where(s.block.at)})`);
    vrrp.set('scripts', scripts);
  }
  const list = (blocks: Block[]): Node => {
    const seq = doc.createNode([]) as Node & { items: Node[] };
    for (const b of blocks) seq.items.push(blockNode(doc, b));
    return seq;
  };
  vrrp.set('instances', list(m.instances));
  if (m.syncGroups.length) vrrp.set('sync_groups', list(m.syncGroups));
  root.set('vrrp', vrrp);
  section('sync_daemon', m.syncDaemon);
  section('lvs_timeouts', m.lvsTimeouts);
  section('realtime', m.realtime);
  if (m.virtualServers.length) root.set('virtual_servers', list(m.virtualServers));

  const n = m.untranslated.length;
  doc.commentBefore = [
    ` duet configuration imported from keepalived: ${file}`,
    n === 0 ? ' Every keyword was translated.' : ` ${n} keyword${n === 1 ? ' was' : 's were'} not translated (listed on stderr and here):`,
    ...m.untranslated.map((r) => `   ${formatReport(r)}`),
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}
