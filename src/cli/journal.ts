import { fstatSync } from 'node:fs';

// Under systemd (ExecReload=, ExecStop=), the CLI's stderr is the unit's journal stream, which
// already has every progress line and every line of the new code's output from the manager: the
// CLI then says only its verdict, so that nothing appears twice.

/** Whether stderr is the journal stream systemd named in $JOURNAL_STREAM (its documented check). */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const [dev, ino] = (env.JOURNAL_STREAM ?? '').split(':');
  if (!dev || !ino) return false;
  try {
    const st = fstatSync(2, { bigint: true });
    return String(st.dev) === dev && String(st.ino) === ino;
  } catch {
    return false;
  }
}
