import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CLI, tempDir } from './hypnode.js';

// What the tests of a manager dying mid-upgrade share, in the foreground and under systemd.

/** hello's app, plus /hold?ms=N: an old worker busy with it keeps the old generation draining. */
const APP = `import { readFileSync } from 'node:fs';
import http from 'node:http';
const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
http.createServer((req, res) => {
  const reply = () => {
    res.setHeader('x-version', version);
    res.setHeader('x-pid', String(process.pid));
    res.end('hello\\n');
  };
  const hold = /^\\/hold\\?ms=(\\d+)$/.exec(req.url ?? '');
  setTimeout(reply, hold ? Number(hold[1]) : req.url === '/slow' ? 300 : 0);
}).listen(Number(process.env.PORT));
`;

export function faultsApp(t: TestContext): { dir: string; app: string } {
  const dir = tempDir(t, 'hypnode-faults-');
  writeFileSync(join(dir, 'app.mjs'), APP);
  writeFileSync(join(dir, 'version.txt'), '1\n');
  return { dir, app: join(dir, 'app.mjs') };
}

/** The running `hypnode start` processes for `app`, found in /proc: the old manager, the new one, or both. */
export function managersOf(app: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]/.test(state.slice(state.lastIndexOf(')') + 2))) continue;
      if (argv.includes('start') && argv.includes(app)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** `hypnode upgrade` running, its output so far readable while it runs. */
export function upgrading(args: string[], env: Record<string, string> = {}): { output: () => string; done: Promise<number | null> } {
  let output = '';
  const proc = spawn(process.execPath, [CLI, 'upgrade', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  return { output: () => output, done: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

