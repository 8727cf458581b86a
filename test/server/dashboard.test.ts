/** The dashboard's static files: caching headers, 404s for unknown files, and a plain answer when it is not built. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { buildServer } from '../../src/server/server.js';
import { tempDb, tempDir } from '../helpers.js';

test('GET / and /ui/<file> from uiDir; other files 404; without a build GET / says to run npm run build', async () => {
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, worker: false, logger: { warn() {} } });
  const built = join(tempDir(), 'ui');
  mkdirSync(built);
  writeFileSync(join(built, 'index.html'), '<!doctype html><script src="/ui/app-ABC123.js"></script>');
  writeFileSync(join(built, 'app-ABC123.js'), 'console.log(1)');
  writeFileSync(join(built, 'secret.txt'), 'not served');
  const app = buildServer({ engine, uiDir: built });
  const bare = buildServer({ engine, uiDir: join(tempDir(), 'missing') });
  try {
    const index = await app.inject({ method: 'GET', url: '/' });
    assert.equal(index.statusCode, 200);
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.match(index.body, /app-ABC123\.js/);
    const script = await app.inject({ method: 'GET', url: '/ui/app-ABC123.js' });
    assert.equal(script.statusCode, 200);
    assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    for (const url of ['/ui/app-NOPE.js', '/ui/secret.txt', '/ui/..%2Fsecret.txt', '/ui/index.html']) {
      const missing = await app.inject({ method: 'GET', url });
      assert.equal(missing.statusCode, 404, url);
      assert.equal(missing.headers['cache-control'], undefined, `${url} is not cached`);
    }
    const unbuilt = await bare.inject({ method: 'GET', url: '/' });
    assert.equal(unbuilt.statusCode, 200);
    assert.match(unbuilt.body, /npm run build/);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/nothing' })).json().code, 'E_ROUTE_NOT_FOUND');
    const conductor = await app.inject({ method: 'GET', url: '/api/nothing' });
    assert.equal(conductor.statusCode, 404);
    assert.equal(conductor.json().status, 404, 'unknown /api paths keep the Conductor body');
  } finally {
    await app.close();
    await bare.close();
    await engine.close();
  }
});
