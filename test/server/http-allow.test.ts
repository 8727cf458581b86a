import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDb, tempDir } from '../helpers.js';
import { cli, spawnCli } from '../cli/cli-process.js';

async function post(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.json();
}

test(
  '`waymark server --http-allow` opens the listed local ' + 'service to HTTP tasks and no other; a bad entry exits 2',
  async () => {
    const bad = await cli(['server', '--http-allow', 'http://internal']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--http-allow: HTTP allow-list entry "http:\/\/internal" is a URL, not a host/);

    let hits = 0;
    const service = createServer((_request, response) => {
      hits += 1;
      response.setHeader('content-type', 'application/json').end(JSON.stringify({ internal: true }));
    });
    service.listen(0, '127.0.0.1');
    await once(service, 'listening');
    const port = (service.address() as AddressInfo).port;
    const definitions = join(tempDir(), 'definitions.json');
    const callOut = (name: string, uri: string) => ({
      name,
      version: 1,
      tasks: [
        {
          name: 'fetch',
          taskReferenceName: 'fetch',
          type: 'HTTP',
          inputParameters: { http_request: { uri, method: 'GET' } },
        },
      ],
      outputParameters: { body: '${fetch.output.response.body}' },
    });
    writeFileSync(
      definitions,
      JSON.stringify([
        callOut('allowed_call', `http://127.0.0.1:${port}/`),
        callOut('other_port', `http://127.0.0.1:${port === 65_535 ? 1 : port + 1}/`),
      ]),
    );

    const child = spawnCli([
      'server',
      '--port',
      '0',
      '--db',
      tempDb(),
      '--log-level',
      'silent',
      '--definitions',
      definitions,
      '--http-allow',
      `127.0.0.1:${port}`,
    ]);
    let stdout = '';
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (chunk) => {
          stdout += chunk;
          const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
          if (found) resolve(found);
        });
        void exited.then(([code]) => reject(new Error(`exited ${code} before listening: ${stdout}`)));
      });
      const allowed = await post(`${url}/v1/runs`, { workflow: 'allowed_call' });
      const refused = await post(`${url}/v1/runs`, { workflow: 'other_port' });
      const result = async (id: string) =>
        (await fetch(`${url}/v1/runs/${id}/result?timeoutMs=20000`)).json() as Promise<any>;
      assert.deepEqual(await result(allowed.id), {
        runId: allowed.id,
        status: 'completed',
        output: { body: { internal: true } },
      });
      const failed = await result(refused.id);
      assert.deepEqual([failed.status, failed.error.details.error.code], ['failed', 'E_HTTP_REFUSED']);
      assert.equal(hits, 1);
    } finally {
      child.kill('SIGINT');
      service.close();
    }
    assert.deepEqual(await exited, [0, null]);
  },
);
