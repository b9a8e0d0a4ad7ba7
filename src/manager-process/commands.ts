import { realpathSync } from 'node:fs';
import type { CommandHandler } from '../control/server.js';
import type { Manager } from '../manager/manager.js';
import type { UpgradeResult } from '../protocol/status.js';

// The control commands, each to what carries it out: most to the Manager, an upgrade to the
// manager's own replacement (upgrade/), which the composition root builds (see run.ts).

/** Replaces this manager (on Node `node`, default: the one it was started by), saying how it goes. */
export type UpgradeCommand = (node: string | null, progress: (text: string) => void) => Promise<UpgradeResult>;

export function commandRouter(manager: Manager, upgrade: UpgradeCommand): CommandHandler {
  return async (request, progress) => {
    switch (request.cmd) {
      case 'reload': {
        const result = await manager.reload(progress);
        return result.ok ? { ok: true, result } : { ok: false, code: result.code, error: result.error, output: result.output, serving: result.serving };
      }
      case 'rollback': {
        const result = await manager.rollback(progress);
        if (!result.ok) return { ok: false, code: result.code, error: result.error, output: result.output, serving: result.serving };
        const { releases, app } = manager.status();
        return { ok: true, result: { ...result, release: releases[0]!, app, appNow: releaseNow(app) } };
      }
      case 'upgrade': {
        const result = await upgrade(request.node ?? null, progress);
        return result.ok ? { ok: true, result } : { ok: false, code: result.code, error: result.error, output: result.output };
      }
      case 'status':
        return { ok: true, result: manager.status() };
      case 'stop':
      case 'stop-fast':
        progress(request.cmd === 'stop' ? 'draining every worker' : 'killing every worker');
        await manager.stop(request.cmd === 'stop' ? 'graceful' : 'fast');
        return { ok: true, result: { pid: process.pid } };
      case 'reopen-logs':
        return { ok: true, result: { reopened: manager.reopenLogs() } };
    }
  };
}

/** What the app's path points to now, which a later reload deploys; null when nothing is there. */
function releaseNow(app: string): string | null {
  try {
    return realpathSync(app);
  } catch {
    return null;
  }
}
