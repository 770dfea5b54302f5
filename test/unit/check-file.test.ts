// fileCheck against real files in a temporary directory, with keepalived's track_file rules:
// missing, empty, garbage, numbers in any base, weight 0, reverse, out-of-range numbers ignored,
// changes between runs; a FIFO without writer does not hang it; the strtol parser as a table.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileCheck, fileVerdict, parseStrtol } from '../../src/check/checkers/file.js';
import type { FileCheckSpec } from '../../src/check/types.js';
import { handles, settledTo } from './check-servers.js';

const never = new AbortController().signal;
const dir = mkdtempSync(join(tmpdir(), 'duet-file-check-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content?: string): string {
  const p = join(dir, `f${n++}`);
  if (content !== undefined) writeFileSync(p, content);
  return p;
}

const spec = (path: string, weight = 1, reverse = false): FileCheckSpec => ({ type: 'file', path, timeoutMs: 1000, weight, reverse });
const run = async (s: FileCheckSpec) => {
  const r = await fileCheck(s, never);
  return [r.ok, r.reason, r.weightOffset];
};

test.serial('leaves no handle or timer behind', async (t) => {
  const before = handles();
  const rs = await Promise.all([
    fileCheck({ ...spec(file('5\n')), timeoutMs: 5000 }, never),
    fileCheck({ ...spec(file()), timeoutMs: 5000 }, never),
    fileCheck({ ...spec(file('1'), 0), timeoutMs: 5000 }, never),
    fileCheck({ ...spec(file('1')), timeoutMs: 5000 }, AbortSignal.abort()),
  ]);
  t.deepEqual(rs.map((r) => [r.ok, r.reason]), [[true, 'value 5'], [true, 'value 0 (missing)'], [false, 'value 1'], [false, 'aborted']]);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('weight 1 (the default): the value is added to the weight; missing, empty, garbage read 0', async (t) => {
  t.deepEqual(await run(spec(file('7\n'))), [true, 'value 7', 7]);
  t.deepEqual(await run(spec(file('-3'))), [true, 'value -3', -3]);
  t.deepEqual(await run(spec(file())), [true, 'value 0 (missing)', 0]);
  t.deepEqual(await run(spec(file(''))), [true, 'value 0', 0]);
  t.deepEqual(await run(spec(file('up\n'))), [true, 'value 0', 0]);
  t.deepEqual(await run(spec(file('  0x1f trailing'))), [true, 'value 31', 31]);
  t.deepEqual(await run(spec(file('010'))), [true, 'value 8', 8], 'a leading 0 is octal, as strtol base 0');
});

test('weight N multiplies, reverse negates', async (t) => {
  t.deepEqual(await run(spec(file('3'), 10)), [true, 'value 3', 30]);
  t.deepEqual(await run(spec(file('3'), 10, true)), [true, 'value 3', -30]);
  t.deepEqual(await run(spec(file('-2'), -5)), [true, 'value -2', 10]);
});

test('weight 0: non-zero fails, zero passes; reverse swaps', async (t) => {
  t.deepEqual(await run(spec(file('0'), 0)), [true, 'value 0', undefined]);
  t.deepEqual(await run(spec(file('1'), 0)), [false, 'value 1', undefined]);
  t.deepEqual(await run(spec(file('-1'), 0)), [false, 'value -1', undefined]);
  t.deepEqual(await run(spec(file(), 0)), [true, 'value 0 (missing)', undefined]);
  t.deepEqual(await run(spec(file('0'), 0, true)), [false, 'value 0', undefined]);
  t.deepEqual(await run(spec(file('4'), 0, true)), [true, 'value 4', undefined]);
});

test('value * weight at or below -2^31 (keepalived IPVS_WEIGHT_FAULT) fails', async (t) => {
  t.deepEqual(await run(spec(file('-2147483648'))), [false, 'value -2147483648', undefined]);
  t.deepEqual(await run(spec(file('-1073741824'), 2)), [false, 'value -1073741824', undefined]);
  t.deepEqual(await run(spec(file('-2147483647'))), [true, 'value -2147483647', -2147483647]);
});

test('the file changing between runs; an out-of-range number is ignored (the last value stands)', async (t) => {
  const p = file('5');
  const s = spec(p, 0);
  t.deepEqual(await run(s), [false, 'value 5', undefined]);
  writeFileSync(p, '0\n');
  t.deepEqual(await run(s), [true, 'value 0', undefined]);
  writeFileSync(p, '99999999999');
  t.deepEqual(await run(s), [true, 'value 0 (ignored 99999999999: out of range)', undefined]);
  writeFileSync(p, '2');
  t.deepEqual(await run(s), [false, 'value 2', undefined]);
  writeFileSync(p, '99999999999');
  t.deepEqual(await run(s), [false, 'value 2 (ignored 99999999999: out of range)', undefined]);
  rmSync(p);
  t.deepEqual(await run(s), [true, 'value 0 (missing)', undefined], 'a deleted file reads 0, as keepalived on IN_DELETE');
});

test('a directory reads 0 (unreadable); a FIFO with no writer does not hang', async (t) => {
  const d = join(dir, 'sub');
  mkdirSync(d);
  t.deepEqual(await run(spec(d, 0)), [true, 'value 0 (unreadable: eisdir)', undefined]);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const r = await fileCheck({ ...spec(fifo), timeoutMs: 2000 }, never);
  t.deepEqual([r.ok, r.reason], [true, 'value 0']);
  t.true(r.latencyMs < 1000);
});

test('parseStrtol is C strtol(s, NULL, 0)', (t) => {
  const table: [string, bigint][] = [
    ['42', 42n], ['  \t\n42', 42n], ['+7', 7n], ['-7', -7n], ['0x10', 16n], ['0X1f', 31n], ['0x', 0n], ['0xg', 0n],
    ['017', 15n], ['08', 0n], ['0', 0n], ['', 0n], ['abc', 0n], ['12abc', 12n], ['- 5', 0n], ['1.9', 1n],
    ['2147483648', 2147483648n], ['-2147483649', -2147483649n], [`${'0'.repeat(100)}7`, 7n],
  ];
  for (const [s, want] of table) t.is(parseStrtol(s), want, JSON.stringify(s));
  t.true(parseStrtol('9'.repeat(200)) > 2n ** 40n, 'a huge number stays out of range');
});

test('fileVerdict clamps to 32 bits', (t) => {
  t.deepEqual(fileVerdict(2147483647, 2, false), { ok: true, offset: 2147483647 });
  t.deepEqual(fileVerdict(2147483647, 2, true), { ok: false });
  t.true(Object.is(fileVerdict(0, 5, true).offset, 0), 'no negative zero');
});
