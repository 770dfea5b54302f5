// `duet realserver` in TUN mode needs the ipip module, which this host's kernel lacks: the netns
// test file runs here inside the VM (Debian kernel, ipip loadable), where its TUN test must run
// and pass (DUET_REQUIRE_IPIP makes the file register it even if the probe disagreed).
import test from 'ava';
import { runInVm, type VmResult, describeVm } from '../../lab/vm.js';

let vm: VmResult;
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
test.before(async (t) => {
  t.timeout(300_000);
  vm = await runInVm("DUET_REQUIRE_IPIP=1 npx ava --serial --verbose build/test/netns/realserver.test.js 2>&1; echo \"ava-exit=$?\"", { timeoutMs: 240_000 });
});

test('the realserver netns tests pass in the VM, the TUN one included', (t) => {
  t.log(`boot ${vm.bootMs} ms, total ${vm.totalMs} ms`);
  t.regex(vm.stdout, /ava-exit=0/, vm.stdout.slice(-3000));
  t.regex(vm.stdout, /✔ .*TUN: tunl0 up with the VIP, rp_filter 0, tunnelled packets answered, all of it undone by teardown/);
  t.notRegex(vm.stdout, /✘/);
});
