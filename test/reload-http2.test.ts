import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { installedExample } from './support/examples.js';
import { freePort, startHypnode, tempDir, waitFor, type Hypnode } from './support/hypnode.js';
import { selfSigned } from './support/self-signed.js';
import { http2Load, loop, type SessionLoad } from './support/session-load.js';

// Issue #24: HTTP/2 and gRPC servers reload like HTTP/1. Each client keeps one connection open
// and sends requests over it in a loop through 3 reloads and a broken deploy: none fails, each
// reload drains the old workers in moments (a GOAWAY to every session), never at the graceful
// timeout, and the requests sent after a reload returned reach the new code. `hypnode stop` with
// a session open returns as fast. The readiness probe speaks HTTP/2, and gRPC's health check.

/** Far beyond the test's bounds: a reload or stop that waits for it fails the test. */
const GRACEFUL_TIMEOUT_S = 120;
/** What a drain (or a stop) may take on a busy machine: its sessions' streams end in milliseconds. */
const DRAIN_BOUND_MS = 10_000;

const H2_APP = `
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
const here = (name) => new URL('./' + name, import.meta.url);
const version = readFileSync(here('version.txt'), 'utf8').trim();
// A broken release: every request (the readiness probe's too) fails.
const status = version === 'broken' ? 503 : 200;
function answer(stream) {
  stream.respond({ ':status': status });
  stream.end(version);
}
http2.createServer().on('stream', answer).listen(Number(process.env.PORT), '127.0.0.1');
const tls = { cert: readFileSync(here('cert.pem')), key: readFileSync(here('key.pem')) };
http2.createSecureServer(tls).on('stream', answer).listen(Number(process.env.TLS_PORT), '127.0.0.1');
`;

/** Reloads to each version while `loads` run, then deploys `breakIt`'s broken release; checks what the issue asks. */
async function reloadsWithSessions(t: TestContext, h: Hypnode, dir: string, loads: SessionLoad[], breakIt: () => void, brokenSays: RegExp): Promise<void> {
  await waitFor('the loads to get answers', () => loads.every((l) => l.answers.length > 0) || null, 15_000);
  // The requests sent from a reload's return to the next reload's start: each must reach its version.
  const windows: { version: string; from: number; to: number }[] = [];
  for (const version of ['2', '3', '4']) {
    writeFileSync(join(dir, 'version.txt'), `${version}\n`);
    if (windows.length) windows.at(-1)!.to = Date.now();
    const r = await h.cli('reload');
    assert.equal(r.code, 0, `reload to ${version}: ${r.stderr}\n${h.output}`);
    assert.match(r.stdout, /old workers drained/, r.stdout);
    t.diagnostic(r.stdout.replace(/\s+/g, ' '));
    windows.push({ version, from: Date.now(), to: Infinity });
    const last = (await h.status()).lastReload;
    assert.ok(last?.ok, 'the reload succeeded');
    assert.equal(last.killedDraining, 0, 'no old worker was killed');
    assert.ok(last.drainedAt - last.servingAt < DRAIN_BOUND_MS, `the old workers drained in ${last.drainedAt - last.servingAt} ms, not at the graceful timeout`);
    await waitFor(`version ${version} to answer every client`, () => loads.every((l) => l.answers.some((a) => a.version === version)) || null, 15_000);
  }
  windows.at(-1)!.to = Date.now();
  breakIt();
  const broken = await h.cli('reload');
  assert.notEqual(broken.code, 0, 'the broken deploy fails its reload');
  assert.match(broken.stderr, brokenSays);
  const after = Date.now();
  await waitFor('answers after the broken deploy', () => loads.every((l) => l.answers.some((a) => a.sentAt > after)) || null, 15_000);
  for (const l of loads) await l.stop();

  for (const [i, l] of loads.entries()) {
    assert.deepEqual(l.failures, [], `no request of client ${i} failed`);
    for (const { version, from, to } of windows) {
      const later = l.answers.filter((a) => a.sentAt >= from && a.sentAt < to);
      assert.ok(later.length > 0, `client ${i} sent requests after the reload to ${version}`);
      assert.deepEqual([...new Set(later.map((a) => a.version))], [version], `client ${i}'s requests after the reload to ${version} reached it`);
    }
    if (l.connections !== null) assert.ok(l.connections >= 4, `client ${i} was sent elsewhere at each reload (${l.connections} connections)`);
  }
  const requests = await waitFor('the streams to be counted', async () => {
    const n = (await h.status()).workers.reduce((sum, w) => sum + w.requests, 0);
    return n > 0 ? n : null;
  });
  assert.ok(requests > 0, 'HTTP/2 streams count as requests');
}

/** `hypnode stop` with a session open: the session is told to go away, and the stop does not wait for it. */
async function stopsAtOnce(h: Hypnode): Promise<void> {
  const startedAt = Date.now();
  const r = await h.cli('stop');
  assert.equal(r.code, 0, r.stderr);
  await h.exited;
  assert.ok(Date.now() - startedAt < DRAIN_BOUND_MS, `the stop took ${Date.now() - startedAt} ms with a session open`);
}

test('node:http2 (h2c and TLS): one session each, 3 reloads and a broken deploy: no stream fails, the new code answers', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.js'), H2_APP);
  writeFileSync(join(dir, 'version.txt'), '1\n');
  const { cert } = selfSigned(dir, 'localhost');
  const [port, tlsPort] = [await freePort(), await freePort()];
  const h = await startHypnode(t, join(dir, 'app.js'), ['--workers', '2', '--graceful-timeout', String(GRACEFUL_TIMEOUT_S), '--probation', '0'], { env: { PORT: String(port), TLS_PORT: String(tlsPort) } });
  const h2c = http2Load(`http://127.0.0.1:${port}`);
  const h2 = http2Load(`https://127.0.0.1:${tlsPort}`, { ca: cert });
  t.after(() => {
    h2c.session().destroy();
    h2.session().destroy();
  });
  await reloadsWithSessions(t, h, dir, [h2c, h2], () => writeFileSync(join(dir, 'version.txt'), 'broken\n'), /readiness probe GET \/ \(HTTP\/2\) was answered 503/);
  t.diagnostic(`streams refused before they were sent, retried: h2c ${h2c.refused()}, TLS ${h2.refused()}`);
  await stopsAtOnce(h);
});

test('gRPC (@grpc/grpc-js, examples/grpc): one channel, 3 reloads and a broken deploy: no call fails, the new code answers', async (t) => {
  const { dir, app } = installedExample(t, 'grpc');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--graceful-timeout', String(GRACEFUL_TIMEOUT_S), '--probation', '0'], { env: { PORT: String(port), HOST: '127.0.0.1' }, wait: false });
  // Loading the protos takes its time on a busy machine: more than waitServing's usual bound.
  await h.waitServing(60_000);
  const { hello } = grpc.loadPackageDefinition(protoLoader.loadSync(join(dir, 'greeter.proto'))) as unknown as { hello: { Greeter: grpc.ServiceClientConstructor } };
  const client = new hello.Greeter(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const calls = loop(
    () =>
      new Promise((resolve, reject) => {
        (client as unknown as Record<string, (req: object, cb: (err: Error | null, reply: { version: string }) => void) => void>).SayHello!({ name: 'test' }, (err, reply) => (err ? reject(err) : resolve(reply.version)));
      }),
    () => null,
  );
  // Its health service says NOT_SERVING: the readiness probe asks it, and the reload fails.
  const notServing = () => writeFileSync(app, readFileSync(app, 'utf8').replace("{ status: 'SERVING' }", "{ status: 'NOT_SERVING' }"));
  await reloadsWithSessions(t, h, dir, [calls], notServing, /gRPC health check \/grpc\.health\.v1\.Health\/Check answered not SERVING/);
  await stopsAtOnce(h);
});
