// Log formats: JSON lines by default, a readable line per event with --pretty / log.format.
import { mkdtempSync, openSync, readFileSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLogger } from '../../src/core/log.js';

async function written(pretty: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'duet-log-'));
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  const log = createLogger({ name: 'lb1', destination: fd, pretty });
  log.info({ instance: 'VI_1', from: 'backup', to: 'master', reason: 'master-down-timer' }, 'transition');
  await new Promise<void>((r) => log.flush(() => r()));
  await new Promise((r) => setTimeout(r, 100));
  closeSync(fd);
  const text = readFileSync(file, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return text;
}

test('json: one line, stable field names', async (t) => {
  const line = JSON.parse((await written(false)).trim()) as Record<string, unknown>;
  t.like(line, { level: 30, node: 'lb1', instance: 'VI_1', from: 'backup', to: 'master', reason: 'master-down-timer', msg: 'transition' });
});

test('pretty: a readable line with the level, message and the same fields', async (t) => {
  const text = await written(true);
  t.regex(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: transition\n/);
  t.regex(text, /node: "lb1"/);
  t.regex(text, /reason: "master-down-timer"/);
  t.throws(() => JSON.parse(text.split('\n')[0]!));
});
