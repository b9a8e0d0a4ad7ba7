import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { exampleApp } from './hypnode.js';

// The examples run from a temp copy, as an app of its own: its node_modules gets the packages its
// package.json names, linked from this repository's node_modules (what `npm install` would put
// there), and `hypnode` itself linked to this repository.

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export function installedExample(t: TestContext, name: string, version = '1'): { dir: string; app: string } {
  const copy = exampleApp(t, name, version);
  const pkg = JSON.parse(readFileSync(join(copy.dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
  for (const dep of names) {
    const link = join(copy.dir, 'node_modules', dep);
    const target = dep === 'hypnode' ? REPO : join(REPO, 'node_modules', dep);
    if (!existsSync(target)) throw new Error(`example ${name} needs ${dep}, which is not installed here`);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(target, link, 'dir');
  }
  return copy;
}
