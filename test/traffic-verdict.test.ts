import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { freePort, startHypnode, tempDir, type Hypnode } from './support/hypnode.js';

// Issue #27: a reload is judged by the new code's answers against the old's. Real hypnode, real
// HTTP on loopback, bounded load.

/**
 * The app: its behaviour comes from mode.txt beside it, read at start as a release's code would be.
 * Every mode answers 5xx on 1% of the requests for /cart and /checkout (a background the old code
 * has too; never on /, the readiness probe's path, or a worker would not start); "broken" answers
 * 500 on 90% of GET /checkout (a third of the load: 30% of all), "slow" answers everything at least 5x later than the healthy code's latency under this load.
 */
const APP = `
import { readFileSync } from 'node:fs';
import http from 'node:http';
const mode = readFileSync(new URL('./mode.txt', import.meta.url), 'utf8').trim();
http.createServer((req, res) => {
  const fail = req.url !== '/' && Math.random() < (mode === 'broken' && req.url === '/checkout' ? 0.9 : 0.01);
  setTimeout(() => {
    res.statusCode = fail ? 500 : 200;
    res.setHeader('x-mode', mode);
    res.end(\`\${mode} \${process.env.GREETING}\`);
  }, mode === 'slow' ? 30 : 2);
}).listen(Number(process.env.PORT));
`;

function release(t: Parameters<typeof tempDir>[0]): { app: string; set(mode: string): void } {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.mjs'), APP);
  const set = (mode: string) => writeFileSync(join(dir, 'mode.txt'), `${mode}\n`);
  set('healthy');
  return { app: join(dir, 'app.mjs'), set };
}

/**
 * Clients asking for /, /cart and /checkout in turn until stopped (or 60 s, or 200k requests):
 * half keep their connection alive, half open one per request, as a site's visitors come and go
 * (a batched reload's canary gets new connections only).
 */
function load(port: number, clients = 10): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const deadline = Date.now() + 60_000;
  const paths = ['/', '/cart', '/checkout'];
  const one = async (i: number) => {
    const agent = i % 2 === 0 ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    while (running && Date.now() < deadline && sent < 200_000) {
      const path = paths[sent++ % 3];
      await new Promise<void>((resolve) => {
        http.get({ host: '127.0.0.1', port, path, agent }, (res) => res.resume().on('end', resolve)).on('error', () => setTimeout(resolve, 10));
      });
    }
    if (agent) agent.destroy();
  };
  const all = Promise.all(Array.from({ length: clients }, (_, i) => one(i)));
  return {
    async stop() {
      running = false;
      await all;
      return sent;
    },
  };
}

async function reload(h: Hypnode) {
  const r = await h.cli('reload');
  const s = await h.status();
  return { ...r, status: s };
}

test('under load, a release answering 500 on GET /checkout for 30% of requests is refused and the old serves again, so is one 5x slower; a healthy one is accepted', async (t) => {
  const { app, set } = release(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--probation', '3', '--verdict-min-requests', '300'], { env: { PORT: String(port) } });
  const traffic = load(port);
  t.after(() => traffic.stop());
  await new Promise((r) => setTimeout(r, 2500));
  set('broken');
  const refused = await reload(h);
  assert.equal(refused.code, 1, `${refused.stderr}\n${h.output}`);
  // The old window is the probation's length, or longer when it held too few answers (a busy
  // machine, the old code just back from a rollback): it reaches back a second at a time.
  assert.match(refused.stderr, /new code: 5xx on [23]\d% of [\d,]+ requests \(GET \/checkout (9\d|100)% of them\); old code: \d(\.\d+)?% of [\d,]+ over the \d+\.\d+ s before the switch; refused at 99\.9% confidence/);
  assert.equal(refused.status.generation, 1, 'the old code serves again');
  assert.equal(refused.status.lastReload?.ok === false && refused.status.lastReload.code, 'TRAFFIC_REFUSED');
  assert.match(refused.status.lastReload?.ok === false ? refused.status.lastReload.error : '', /refused at 99\.9% confidence/);
  set('slow');
  const slow = await reload(h);
  assert.equal(slow.code, 1, `${slow.stderr}\n${h.output}`);
  assert.match(slow.stderr, /new code: median above [\d.]+ ms \(\d+% of [\d,]+ answers took longer\); old code: median at most [\d.]+ ms of [\d,]+ over the [\d.]+ s before the switch; refused at 99\.9% confidence/);
  assert.equal(slow.status.generation, 1);
  set('healthy');
  const accepted = await reload(h);
  assert.equal(accepted.code, 0, `${accepted.stderr}\n${h.output}`);
  assert.equal(accepted.status.generation, 4);
  assert.match(accepted.status.lastReload?.ok ? accepted.status.lastReload.traffic ?? '' : '', /^new code: 5xx on \d(\.\d+)?% of [\d,]+ requests( \([^)]*\))?, median ≤ [\d.]+ ms, p99 ≤ [\d.]+ ms; old code: \d(\.\d+)?% of [\d,]+, median ≤ [\d.]+ ms, p99 ≤ [\d.]+ ms over the \d+\.\d+ s before the switch; not worse at 99\.9% confidence$/);
  assert.ok((await traffic.stop()) > 600);
});

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('rollback deploys the release that served before, with the env files as loaded then, and says what a later reload deploys', async (t) => {
  const dir = tempDir(t);
  for (const r of ['r1', 'r2']) {
    mkdirSync(join(dir, r));
    writeFileSync(join(dir, r, 'app.mjs'), APP);
    writeFileSync(join(dir, r, 'mode.txt'), `${r}\n`);
  }
  const env = join(dir, 'shared.env');
  writeFileSync(env, 'GREETING=hello\n');
  symlinkSync('r1', join(dir, 'current'));
  const port = await freePort();
  const h = await startHypnode(t, join(dir, 'current', 'app.mjs'), ['--workers', '1', '--probation', '0.5', '--env-file', env], { env: { PORT: String(port) } });
  assert.equal(await get(port), 'r1 hello');
  unlinkSync(join(dir, 'current'));
  symlinkSync('r2', join(dir, 'current'));
  writeFileSync(env, 'GREETING=bonjour\n');
  const reloaded = await h.cli('reload');
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.equal(await get(port), 'r2 bonjour');
  // The env file changes again: the rollback deploys r1 as it was loaded then, not as the disk has it now.
  writeFileSync(env, 'GREETING=hola\n');
  const back = await h.cli('rollback');
  assert.equal(back.code, 0, back.stderr);
  const r1 = realpathSync(join(dir, 'r1', 'app.mjs'));
  assert.match(back.stdout, new RegExp(`^rolled back: generation 3 runs ${r1} `));
  assert.ok(back.stdout.includes(`${join(dir, 'current', 'app.mjs')} still points to ${realpathSync(join(dir, 'r2', 'app.mjs'))}: a later reload deploys that again`), back.stdout);
  assert.equal(await get(port), 'r1 hello');
  const s = await h.status();
  assert.deepEqual(s.releases.map((r) => [r.generation, r.app, r.rolledBackTo]), [[3, r1, true]]);
  assert.deepEqual(s.generations.map((g) => g.app), [r1]);
  // Back to r1, the release before r2: no further one is known.
  const again = await h.cli('rollback');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no release served before the current one/);
});

test('a batched reload judges its canary beside the old workers over the same window: a broken canary is refused before any other batch', async (t) => {
  const { app, set } = release(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--reload-batch', '1', '--probation', '3', '--verdict-min-requests', '300'], { env: { PORT: String(port) } });
  const traffic = load(port);
  t.after(() => traffic.stop());
  await new Promise((r) => setTimeout(r, 1000));
  set('broken');
  const refused = await reload(h);
  await traffic.stop();
  assert.equal(refused.code, 1, `${refused.stderr}\n${h.output}`);
  assert.match(refused.stderr, /new code: 5xx on [23]\d% of [\d,]+ requests \(GET \/checkout (9\d|100)% of them\); old code: \d(\.\d+)?% of [\d,]+ over the same \d+\.\d+ s; refused at 99\.9% confidence/);
  assert.doesNotMatch(refused.stderr, /batch 2\/2/, 'no batch after the canary');
  assert.deepEqual(refused.status.generations.map((g) => g.id), [1]);
});

test('--verdict require: with no clients, a plain reload, whose old code had no traffic before the switch, fails saying so; a canary and the old workers are probed until the sample is there', async (t) => {
  const { app } = release(t);
  const config = join(dirname(app), 'hypnode.config.json');
  const settings = { workers: 2, probation: 1, verdict: 'require', verdictMinRequests: 100, verdictMaxWait: 2 };
  writeFileSync(config, JSON.stringify(settings));
  const port = await freePort();
  const h = await startHypnode(t, app, [], { env: { PORT: String(port) } });
  const plain = await reload(h);
  assert.equal(plain.code, 1, `${plain.stderr}\n${h.output}`);
  assert.match(plain.stderr, /[\d,]+ requests to the new code and 0 to the old over the [\d.]+ s before the switch \(100 needed of each\); no verdict on traffic, and --verdict require asks for one/);
  assert.equal(plain.status.generation, 1, 'the old code serves again');
  writeFileSync(config, JSON.stringify({ ...settings, reloadBatch: 1, verdictMaxWait: 10 }));
  const probed = await reload(h);
  assert.equal(probed.code, 0, `${probed.stderr}\n${h.output}`);
  assert.match(probed.stderr, /traffic: new code: 5xx on [\d.]+% of [\d,]+ requests.*, median ≤ .* over the same [\d.]+ s; not worse at 99\.9% confidence/);
});
