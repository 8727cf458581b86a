import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { openEngineOnStore } from '../../src/engine.js';
import { createKey } from '../../src/server/auth/credentials.js';
import { startServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/open.js';
import { tempDb, tempDir } from '../helpers.js';

/** A self-signed certificate for localhost and 127.0.0.1, made with openssl. */
export function selfSignedCertificate(): { cert: Buffer; key: Buffer; certFile: string; keyFile: string } {
  const dir = tempDir();
  const [certFile, keyFile] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}

/** GET `url` over HTTPS trusting only `ca`: the status and body. */
export function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('with a certificate and key the server speaks HTTPS, auth and all; plain HTTP is not answered', async () => {
  const tls = selfSignedCertificate();
  const store = await openStore(`sqlite:${tempDb()}`);
  const engine = await openEngineOnStore(store, { worker: false });
  const server = await startServer({ engine, port: 0, tls, auth: { store } });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await httpsGet(`${server.url}/health`, tls.cert), { status: 200, body: '{"status":"ok"}' });
    assert.equal((await httpsGet(`${server.url}/v1/runs`, tls.cert)).status, 401);
    const key = await createKey(store.keys, { role: 'reader' });
    const listed = await httpsGet(`${server.url}/v1/runs`, tls.cert, {
      authorization: `Bearer ${key.keyId}:${key.keySecret}`,
    });
    assert.deepEqual(listed, { status: 200, body: '{"runs":[]}' });
    await assert.rejects(fetch(`${server.url.replace('https:', 'http:')}/health`), 'plain HTTP gets no answer');
  } finally {
    await server.close();
    await engine.close();
    await store.close();
  }
});
