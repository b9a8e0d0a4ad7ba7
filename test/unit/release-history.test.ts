import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Plan } from '../../src/config/deployment.js';
import { defaultSettings } from '../../src/config/settings.js';
import { ReleaseHistory } from '../../src/manager/release-history.js';

const plan = (n: number): Plan => ({ settings: defaultSettings(), release: { app: `/srv/app/releases/${n}/app.js`, cwd: `/srv/app/releases/${n}` }, env: {} });

test('release history: a stack; a rollback deploys the one before and takes the current off, so that the next goes further back', () => {
  const h = new ReleaseHistory();
  const [p1, p2, p3] = [plan(1), plan(2), plan(3)];
  assert.equal(h.rollBack(), null, 'nothing before the first');
  h.served(1, p1);
  h.served(1, p1);
  assert.equal(h.rollBack(), null, 'the same plan served twice (first serve, then the reload that made it) is one release');
  h.served(2, p2);
  h.served(3, p3);
  assert.equal(h.takePending(), null, 'no rollback asked: reloads read the disk');
  assert.equal(h.rollBack()?.app, '/srv/app/releases/2/app.js');
  assert.equal(h.takePending(), p2, 'the plan as it was deployed, settings and env included');
  assert.equal(h.takePending(), null, 'once');
  h.served(4, p2);
  assert.deepEqual(h.list().map((r) => [r.generation, r.app, r.rolledBackTo]), [[4, '/srv/app/releases/2/app.js', true], [1, '/srv/app/releases/1/app.js', false]]);
  assert.equal(h.rollBack()?.generation, 1, 'a second rollback goes further back, never forth to 3');
});
