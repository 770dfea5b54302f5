// `duet export keepalived [-c duet.yaml] [-o FILE]`: the way back from `duet import`.
import { readFileSync, writeFileSync } from 'node:fs';
import { formatIssue } from '../config/load.js';
import { exportKeepalived } from './keepalived-export.js';
import type { ExportReport } from './keepalived-export-writer.js';
import { IMPORT_EXIT } from './keepalived.js';

export interface ExportCliOptions {
  config: string;
  output?: string | undefined;
}

const format = (file: string, r: ExportReport): string => `${file}:${r.line}: ${r.field}: ${r.why}`;

/** Exit status as `duet import`: 0 complete, 4 partial, 1 failed, 2 usage. */
export function exportCommand(positionals: string[], o: ExportCliOptions): number {
  if (positionals[0] !== 'keepalived' || positionals.length > 1) {
    console.error('duet: usage: duet export keepalived [-c duet.yaml] [-o FILE]');
    return IMPORT_EXIT.usage;
  }
  let text: string;
  try { text = readFileSync(o.config, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    console.error(`duet: ${o.config}: cannot read: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
    return IMPORT_EXIT.failed;
  }
  const r = exportKeepalived(text, o.config);
  for (const e of r.errors) console.error(formatIssue(e));
  if (r.status === 'failed') { console.error(`duet: ${o.config} does not load: nothing exported`); return IMPORT_EXIT.failed; }
  for (const u of r.untranslated) console.error(format(o.config, u));
  for (const n of r.notes) console.error(`${format(o.config, n)} (note)`);
  if (o.output) writeFileSync(o.output, r.conf);
  else process.stdout.write(r.conf);
  const n = r.untranslated.length;
  console.error(r.status === 'complete' ? `duet: ${o.config}: exported completely` : `duet: ${o.config}: exported partly, ${n} field${n === 1 ? '' : 's'} not exported`);
  return IMPORT_EXIT[r.status];
}
