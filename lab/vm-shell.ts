// Where the VM jobs' shared shell lives (lab/sh/*.sh: real files the VM sees at the same path,
// since it mounts the host's root read-only), and how the host reads a job's output back.
import { join } from 'node:path';
import { PROJECT_ROOT } from './vm.js';

/** The shell library every VM job sources (section, ms, waitfor, mklan, addhost, dr_realserver). */
export const VM_LIB = join(PROJECT_ROOT, 'lab', 'sh', 'vm-lib.sh');
/** `bash ${VIP_HTTP} PORT N [ADDRESS]`: N one-connection HTTP requests, each body's last line. */
export const VIP_HTTP = join(PROJECT_ROOT, 'lab', 'sh', 'vip-http.sh');

/** A job's first lines: strict about unset variables, with the library loaded. */
export const VM_PRELUDE = `set -u\n. ${VM_LIB}\n`;

/** The lines a job printed after "=== name" and before the next section. */
export function vmSection(stdout: string, name: string): string {
  const m = new RegExp(`=== ${name}\\n([\\s\\S]*?)(?:\\n=== |$)`).exec(stdout);
  return m ? m[1]! : '';
}
