// Where our N-API addons are: native/build/Release/NAME.node, looked for from a module's own
// directory upwards (src/x, dist/src/x or build/src/x in a checkout, the package's tree when
// installed).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoError } from './errors.js';

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

const loaded = new Map<string, unknown>();

/**
 * The addon NAME, found from moduleUrl's directory upwards and loaded once, for a feature that
 * cannot run without it (what: the feature, for the error). IoError when it is not built or does
 * not load, saying how to build it.
 */
export function requireAddon<T>(moduleUrl: string, name: string, what: string): T {
  if (loaded.has(name)) return loaded.get(name) as T;
  const { file, tried } = findAddon(moduleUrl, name);
  if (file === undefined) throw new IoError(`${what} needs the native addon native/build/Release/${name}.node, which is not built: run \`npm run build:native\` (looked for ${tried.join(', ')})`);
  try {
    const m = createRequire(moduleUrl)(file) as T;
    loaded.set(name, m);
    return m;
  } catch (e) {
    throw new IoError(`${what} addon ${file} does not load (rebuild it with \`npm run build:native\`): ${(e as Error).message}`, { cause: e });
  }
}
