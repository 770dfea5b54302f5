// Where our N-API addons are: native/build/Release/NAME.node, looked for from a module's own
// directory upwards (src/x, dist/src/x or build/src/x in a checkout, the package's tree when
// installed).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon file found from moduleUrl's directory upwards (5 levels), and every path tried. */
export function findAddon(moduleUrl: string, name: string): { file: string | undefined; tried: string[] } {
  const rel = path.join('native', 'build', 'Release', `${name}.node`);
  const tried: string[] = [];
  for (let dir = path.dirname(fileURLToPath(moduleUrl)), i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, rel);
    tried.push(file);
    if (existsSync(file)) return { file, tried };
  }
  return { file: undefined, tried };
}
