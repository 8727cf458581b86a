import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { BlockList, type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { NonRetryableError } from '../../src/core/errors.js';
import { Engine, type Json } from '../../src/index.js';
import { destinationRefusal, ownAddresses, parseAllowList } from '../../src/declarative/address-policy.js';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { callHttp, httpPolicy, type HttpTaskOptions } from '../../src/declarative/http-task.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

/** A real HTTP server on 127.0.0.1 that counts the requests reaching it. */
interface LocalService {
  port: number;
  url: string;
  hits: number;
  server: Server;
}

async function serve(handler: RequestListener): Promise<LocalService> {
  const service = { port: 0, url: '', hits: 0 } as LocalService;
  service.server = createServer((request, response) => {
    service.hits += 1;
    handler(request, response);
  });
  service.server.listen(0, '127.0.0.1');
  await once(service.server, 'listening');
  service.port = (service.server.address() as AddressInfo).port;
  service.url = `http://127.0.0.1:${service.port}`;
  after(() => {
    service.server.closeAllConnections();
    service.server.close();
  });
  return service;
}

const secret = await serve((_request, response) =>
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ secret: 'db-password' })),
);
const never = new AbortController().signal;
const call = (uri: string, options: HttpTaskOptions = {}, signal = never) =>
  callHttp({ uri }, signal, httpPolicy(options));

/** Asserts the call fails at once (not retried) with `code`. */
async function refusedWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof NonRetryableError, `expected a NonRetryableError, got ${String(error)}`);
    assert.equal((error as { code?: string }).code, code, (error as Error).message);
    if (message) assert.match((error as Error).message, message);
    return true;
  });
}

test(
  'by default loopback, private, link-local and unspecified ' +
    'destinations are refused in every spelling, and nothing reaches them',
  async () => {
    const p = secret.port;
    const uris = [
      `http://127.0.0.1:${p}/`,
      `http://localhost:${p}/`, // a name: judged on what it resolves to
      `http://2130706433:${p}/`, // decimal
      `http://0x7f000001:${p}/`, // hex
      `http://0177.0.0.1:${p}/`, // octal
      `http://127.1:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`, // IPv4-mapped IPv6
      `http://[::ffff:7f00:1]:${p}/`,
      `http://[64:ff9b::7f00:1]:${p}/`, // NAT64
      `http://[2002:7f00:1::]:${p}/`, // 6to4
      `http://0.0.0.0:${p}/`,
      `http://0:${p}/`,
      `http://[::]:${p}/`,
      `http://[::1]:${p}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://[fd00::1]/',
    ];
    for (const uri of uris) await refusedWith(call(uri), 'E_HTTP_REFUSED', /may not call .*allow-list/);
    assert.equal(secret.hits, 0, 'no request reached the loopback service');
  },
);

test('an allow-list entry opens exactly the host, address, port or range it names', async () => {
  const other = await serve((_request, response) => response.end('other'));
  const p = secret.port;
  const expected = { statusCode: 200, body: { secret: 'db-password' } };
  const pick = (output: Json) => {
    const { statusCode, body } = (output as { response: { statusCode: number; body: Json } }).response;
    return { statusCode, body };
  };

  assert.deepEqual(pick(await call(`${secret.url}/`, { allow: [`127.0.0.1:${p}`] })), expected);
  await refusedWith(call(`${other.url}/`, { allow: [`127.0.0.1:${p}`] }), 'E_HTTP_REFUSED', /127\.0\.0\.1/);

  assert.deepEqual(pick(await call(`http://localhost:${p}/`, { allow: ['localhost'] })), expected);
  // the name is allowed, not its address
  await refusedWith(call(`${secret.url}/`, { allow: ['localhost'] }), 'E_HTTP_REFUSED');

  assert.deepEqual(pick(await call(`http://2130706433:${p}/`, { allow: ['127.0.0.0/8'] })), expected);
  assert.deepEqual(pick(await call(`http://[::ffff:127.0.0.1]:${p}/`, { allow: ['127.0.0.1'] })), expected);
  assert.equal(other.hits, 0);
});

test(
  'every redirect hop is checked: a redirect to a refused destination, ' +
    'in any spelling, is refused before it connects',
  async () => {
    const target = await serve((_request, response) => response.end('internal'));
    let location = '';
    const front = await serve((_request, response) => response.writeHead(302, { location }).end());
    const allowFront = { allow: [`127.0.0.1:${front.port}`] };
    for (const to of [
      `${target.url}/admin`,
      `http://2130706433:${target.port}/`,
      `http://localhost:${target.port}/`,
      `http://[::ffff:127.0.0.1]:${target.port}/`,
    ]) {
      location = to;
      await refusedWith(call(`${front.url}/`, allowFront), 'E_HTTP_REFUSED', /may not call/);
    }
    assert.equal(target.hits, 0, 'no redirect reached the refused service');

    location = `${target.url}/admin`;
    const followed = (await call(`${front.url}/`, {
      allow: [`127.0.0.1:${front.port}`, `127.0.0.1:${target.port}`],
    })) as { response: { body: Json } };
    assert.equal(followed.response.body, 'internal', 'both hops allowed: the redirect is followed');

    location = '/again';
    await assert.rejects(
      call(`${front.url}/`, { ...allowFront, maxRedirects: 3 }),
      (error: unknown) => error instanceof NonRetryableError && /redirected more than 3 times/.test(error.message),
    );
  },
);

test(
  'responses over the size limit are refused, declared, ' +
    'streamed or compressed; a request past the time limit fails and is retried',
  async () => {
    const big = await serve((request, response) => {
      if (request.url === '/declared')
        return response.writeHead(200, { 'content-length': 2_000_000 }).end(Buffer.alloc(2_000_000, 'a'));
      if (request.url === '/gzip')
        return response.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(20_000_000)));
      const chunk = Buffer.alloc(64 * 1024, 'b'); // streamed without end
      const pump = () => {
        while (response.write(chunk));
        response.once('drain', pump);
      };
      response.on('close', () => response.removeAllListeners('drain'));
      pump();
    });
    const allow = { allow: [`127.0.0.1:${big.port}`], maxResponseBytes: 1_048_576 };
    for (const path of ['/declared', '/gzip', '/stream'])
      await refusedWith(call(`${big.url}${path}`, allow), 'E_LIMIT_EXCEEDED', /larger than 1048576 bytes/);

    const silent = await serve(() => {}); // never answers
    const slow = call(`${silent.url}/`, { allow: [`127.0.0.1:${silent.port}`], timeoutMs: 200 });
    await rejectsWith(slow, 'E_TIMEOUT'); // a WaymarkError, not a NonRetryableError: the attempt is retried

    const stop = new AbortController();
    const stopped = call(`${silent.url}/`, { allow: [`127.0.0.1:${silent.port}`] }, stop.signal);
    stop.abort(new Error('engine closed'));
    await assert.rejects(stopped, /engine closed/);
  },
);

test(
  "this machine's own addresses are refused, IPv6-mapped too; " +
    'bad allow-list entries and options are E_INVALID_INPUT',
  () => {
    const none = parseAllowList([]);
    const own = new BlockList();
    own.addAddress('8.8.8.8');
    assert.equal(
      destinationRefusal(none, 'example.com', 80, '8.8.8.8', new BlockList()),
      undefined,
      'a public address may be reached',
    );
    assert.match(destinationRefusal(none, 'example.com', 80, '8.8.8.8', own) ?? '', /address of this server/);
    assert.match(destinationRefusal(none, 'example.com', 80, '::ffff:8.8.8.8', own) ?? '', /address of this server/);
    assert.equal(destinationRefusal(parseAllowList(['8.8.8.8:80']), 'example.com', 80, '8.8.8.8', own), undefined);
    assert.ok(ownAddresses().check('127.0.0.1'), "the interfaces' addresses include loopback");

    for (const entry of ['', 'http://example.com', '10.0.0.0/33', 'example.com:99999', 'a b', '10.0.0.0/x']) {
      assert.throws(() => parseAllowList([entry]), { code: 'E_INVALID_INPUT' }, JSON.stringify(entry));
    }
    assert.throws(() => httpPolicy({ timeoutMs: 0 }), { code: 'E_INVALID_INPUT' });
    assert.throws(() => httpPolicy({ maxResponseBytes: 1.5 }), { code: 'E_INVALID_INPUT' });
  },
);

const httpWorkflow = (uri: string) =>
  parseWorkflowDef({
    name: 'call_out',
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

forEachBackend((backend) => {
  test(
    'a declarative HTTP task to a loopback service fails the ' +
      'run at once without reaching it; the allow-list opens it',
    async () => {
      for (const allowed of [false, true]) {
        const support = await declarativeSupport(allowed ? { http: { allow: [`127.0.0.1:${secret.port}`] } } : {});
        const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
        support.bind(engine);
        try {
          await engine.definitions.register([
            compileWorkflowDef(httpWorkflow(`http://2130706433:${secret.port}/`), support.env),
          ]);
          const run = await engine.start('call_out', null);
          const hitsBefore = secret.hits;
          const ended = await runUntil(engine, run.id, (r) => r.status === 'completed' || r.status === 'failed');
          if (allowed) {
            assert.deepEqual(ended.output, { body: { secret: 'db-password' } });
            continue;
          }
          assert.equal(ended.status, 'failed');
          assert.equal(secret.hits, hitsBefore, 'the service was never reached');
          const details = ended.error!.details as { attempts: number; error: { code: string } };
          assert.deepEqual(
            [ended.error!.code, details.error.code, details.attempts],
            ['E_STEP_FAILED', 'E_HTTP_REFUSED', 1],
          );
          assert.ok(!JSON.stringify(await engine.history(run.id)).includes('db-password'));
        } finally {
          await engine.close();
        }
      }
    },
  );
});
