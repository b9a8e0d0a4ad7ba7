import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { runCommand } from './commands.js';
import { PM2_PACKAGE, ROOT } from './paths.js';
import { wrkAvailable, wrkVersion } from './wrk.js';

// What the figures were measured on and with: they mean little without it.

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  pm2: string | null;
  wrk: string | null;
  mojolicious: string | null;
  /** The hypnode commit, with "+dirty" if the working tree differs from it. */
  hypnode: string | null;
}

export async function describeMachine(): Promise<Machine> {
  const [wrk, mojolicious, commit, dirty] = await Promise.all([
    wrkAvailable() ? wrkVersion() : null,
    runCommand('perl', ['-MMojolicious', '-e', 'print Mojolicious->VERSION'], process.env, 10_000),
    runCommand('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], process.env, 10_000),
    runCommand('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], process.env, 10_000),
  ]);
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: os.totalmem() / 1024 ** 3,
    kernel: os.release(),
    node: process.version,
    pm2: existsSync(PM2_PACKAGE) ? (JSON.parse(readFileSync(PM2_PACKAGE, 'utf8')) as { version: string }).version : null,
    wrk,
    mojolicious: mojolicious.code === 0 ? mojolicious.output : null,
    hypnode: commit.code === 0 ? `${commit.output}${dirty.output ? '+dirty' : ''}` : null,
  };
}
