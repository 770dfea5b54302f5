// One VM job per test file: run before the file's tests (ava's timeout set past the job's own),
// its output saved with DUET_VM_DUMP=FILE, and after any failed test the job's exit, output tail
// and the daemons' log tails printed, so CI's log names the cause.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { runInVm, describeVm, type VmOptions, type VmResult } from '../../lab/vm.js';
import { vmSection } from '../../lab/vm-shell.js';

export interface VmJob {
  /** The finished job (throws if it did not run: its hook failed, see above it). */
  readonly vm: VmResult;
  /** The lines the job printed after "=== name" and before the next section. */
  part(name: string): string;
}

export function vmJob(job: string, o: VmOptions & { timeoutMs: number }): VmJob {
  let vm: VmResult | undefined;
  test.before(async (t) => {
    t.timeout(o.timeoutMs + 60_000);
    vm = await runInVm(job, o);
    const dump = process.env['DUET_VM_DUMP'];
    if (dump) writeFileSync(dump, `${vm.stdout}\n--- stderr\n${vm.stderr}`);
  });
  test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
  return {
    get vm(): VmResult { if (!vm) throw new Error('the VM job did not run'); return vm; },
    part: (name) => vmSection(vm?.stdout ?? '', name),
  };
}
