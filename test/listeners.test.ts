import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { installedExample } from './support/examples.js';
import { assertNoneLeft, freePort, startHypnode, tempDir } from './support/hypnode.js';
import { reloadUnderLoad } from './support/reload-under-load.js';
import { selfSigned } from './support/self-signed.js';

// Issue #6, point 2: listening beyond plain TCP on IPv4. HTTPS (a reload picks up a renewed
// certificate), unix socket paths (even from an app that removes its socket file), IPv6, and
// an app with two servers: every socket stays open across reloads.

/** The fingerprint of the certificate a fresh TLS connection is shown. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

function getUnix(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-version'])));
    }).on('error', reject);
  });
}

test('HTTPS: reloads under load fail no request, and a reload serves the renewed certificate', async (t) => {
  const { dir, app } = installedExample(t, 'https');
  const first = selfSigned(dir, 'hypnode test, first');
  const certs = tempDir(t);
  const renewed = selfSigned(certs, 'hypnode test, renewed');
  const ca = first.cert + renewed.cert;
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  assert.equal(await servedFingerprint(port, ca), first.fingerprint);

  // Renewal: the files change on disk; the running workers keep what they read at start.
  for (const name of ['cert.pem', 'key.pem']) writeFileSync(join(dir, name), readFileSync(join(certs, name)));
  assert.equal(await servedFingerprint(port, ca), first.fingerprint);
  await reloadUnderLoad(h, dir, [{ port, ca }], ['2']);
  assert.equal(await servedFingerprint(port, ca), renewed.fingerprint, 'after the reload, new connections see the renewed certificate');
});

test('IPv6: an app listening on ::1 reloads under load without a failed request', async (t) => {
  const { dir, app } = installedExample(t, 'express');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port), HOST: '::1' } });
  await reloadUnderLoad(h, dir, [{ port, host: '::1' }]);
});

test('two servers (API and metrics): both ports stay open across reloads', async (t) => {
  const { dir, app } = installedExample(t, 'multi-server');
  const [port, metricsPort] = [await freePort(), await freePort()];
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port), METRICS_PORT: String(metricsPort) } });
  await reloadUnderLoad(h, dir, [{ port }, { port: metricsPort }]);
});

// The example removes its socket file before listen() and again when its server closes, as many
// apps do; under hypnode every worker after the first would remove the manager's live socket.
test('a unix socket path survives reloads under load, though the app removes its socket file', async (t) => {
  const { dir, app } = installedExample(t, 'unix-socket');
  const sockets = tempDir(t, 'hypnode-sock-');
  const socketPath = join(sockets, 'app.sock');
  const h = await startHypnode(t, app, ['--workers', '3'], { env: { SOCKET_PATH: socketPath } });
  assert.ok(lstatSync(socketPath).isSocket());
  await reloadUnderLoad(h, dir, [{ socketPath }]);
  assert.equal(await getUnix(socketPath), '3');

  // Removed by someone else (a cleanup script, say): the next reload puts it back.
  rmSync(socketPath);
  writeFileSync(join(dir, 'version.txt'), '4\n');
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await getUnix(socketPath), '4');

  // A stop removes everything hypnode put there.
  assert.equal((await h.cli('stop')).code, 0);
  await assertNoneLeft(h);
  assert.deepEqual(readdirSync(sockets), [], 'no socket file is left behind');
  assert.ok(!existsSync(socketPath));
});

test('a socket path left behind by a killed manager is bound again at the next start', async (t) => {
  const { app } = installedExample(t, 'unix-socket');
  const socketPath = join(tempDir(t, 'hypnode-sock-'), 'app.sock');
  const killed = await startHypnode(t, app, ['--workers', '1'], { env: { SOCKET_PATH: socketPath } });
  killed.proc.kill('SIGKILL');
  await killed.exited;
  await assertNoneLeft(killed); // its worker exits by itself once the manager is gone
  assert.ok(lstatSync(socketPath).isSocket(), 'the killed manager left its socket file, which the app may not remove');

  await startHypnode(t, app, ['--workers', '1'], { env: { SOCKET_PATH: socketPath } });
  assert.equal(await getUnix(socketPath), '1');
});
