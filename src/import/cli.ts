// `duet import keepalived [FILE] [-o OUT] [--check] [--config-id ID]`.
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { formatReport } from './keepalived-map.js';
import { IMPORT_EXIT, importKeepalived } from './keepalived.js';
import { fsReader, whichInPath } from './node-reader.js';
import { where } from './keepalived-parse.js';

export interface ImportCliOptions {
  output?: string | undefined;
  check?: boolean;
  'config-id'?: string | undefined;
}

export async function importCommand(positionals: string[], o: ImportCliOptions): Promise<number> {
  const [what, file = '/etc/keepalived/keepalived.conf', ...extra] = positionals;
  if (what !== 'keepalived' || extra.length) {
    console.error('duet: usage: duet import keepalived [FILE] [-o OUT] [--check] [--config-id ID]');
    return IMPORT_EXIT.usage;
  }
  // keepalived's default config id: the host name up to its first '.'.
  const configId = o['config-id'] ?? hostname().split('.')[0] ?? '';
  const r = importKeepalived(file, { reader: fsReader, configId, resolveProgram: (p) => whichInPath(p) });
  for (const e of r.errors) console.error(`${where(e.at)}: ${e.keyword}: ${e.message}`);
  if (r.status === 'failed') { console.error(`duet: import of ${file} failed`); return IMPORT_EXIT.failed; }
  for (const u of r.untranslated) console.error(formatReport(u));
  for (const n of r.notes) console.error(`${formatReport(n)} (note)`);
  if (o.check) {
    const { parseConfig, formatIssue } = await import('../config/load.js');
    const { realScriptHost } = await import('../core/script-run.js');
    const warnings: string[] = [];
    const c = parseConfig(r.yaml, o.output ?? '<import>', { scriptHost: realScriptHost, warn: (i) => warnings.push(formatIssue(i)) });
    for (const w of warnings) console.error(`duet: warning: ${w}`);
    if (!c.ok) {
      for (const i of c.error) console.error(formatIssue(i));
      console.error('duet: the imported config does not load (--check)');
      if (o.output) writeFileSync(o.output, r.yaml);
      else process.stdout.write(r.yaml);
      return IMPORT_EXIT.failed;
    }
  }
  if (o.output) writeFileSync(o.output, r.yaml);
  else process.stdout.write(r.yaml);
  const n = r.untranslated.length;
  console.error(r.status === 'complete' ? `duet: ${file}: translated completely` : `duet: ${file}: translated partly, ${n} keyword${n === 1 ? '' : 's'} not translated`);
  return IMPORT_EXIT[r.status];
}
