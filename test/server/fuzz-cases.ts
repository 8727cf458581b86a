/**
 * Malformed requests for the HTTP fuzz test, generated from a seed: for each route, a request that is
 * well formed (the template) and many variants of it with one thing broken: a path parameter, a query
 * parameter, the body's text, one body field, the content type.
 */

/** One request as the fuzz test sends it: `url` already percent-encoded; a string body is sent as it is. */
export interface FuzzRequest {
  method: string;
  url: string;
  body?: string;
  contentType?: string;
  /** What was broken, for failure messages and the counts. */
  mutation: string;
}

/** A route's well-formed request: path parameters, query parameters and body (JSON). */
export interface RouteTemplate {
  method: string;
  /** Fastify's form: '/v1/runs/:id/signals/:name'. */
  route: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body?: unknown;
  /** Query parameters whose only variants are broken ones (a valid one could make the request wait long). */
  waits?: string[];
}

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Path and query text: NUL, bad UTF-8 (a lone surrogate cannot be encoded: its
 * CESU bytes are sent), huge numbers, overlong, prototype names, unknown ids.
 */
const HOSTILE_TEXT: { raw: string; encoded?: string }[] = [
  { raw: 'a\u0000b' },
  { raw: '\u0000' },
  { raw: '\ud800', encoded: '%ED%A0%80' },
  { raw: '\udfff-x', encoded: '%ED%BF%BF-x' },
  { raw: 'bad-utf8', encoded: '%FF%FE' },
  { raw: '99999999999999999999' },
  { raw: '1e300' },
  { raw: '-1' },
  { raw: '2147483648' },
  { raw: 'NaN' },
  { raw: 'x'.repeat(300) },
  { raw: 'x'.repeat(1_200) },
  { raw: '__proto__' },
  { raw: 'constructor' },
  { raw: 'unknown-id-0' },
  { raw: ' ' },
  { raw: '%', encoded: '%' },
  { raw: "' OR 1=1 --" },
  { raw: '(((((' },
  { raw: 'é€😀' },
];

/** JSON values put in place of one body field. */
function hostileValues(random: () => number): unknown[] {
  const deep = (levels: number): unknown =>
    levels === 0 ? 1 : random() < 0.5 ? [deep(levels - 1)] : { a: deep(levels - 1) };
  return [
    null,
    true,
    0,
    -1,
    1.5,
    1e300,
    -1e300,
    2 ** 64,
    '',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    'x'.repeat(100_000),
    [],
    {},
    ['x', 1, null],
    { nested: 'a\u0000b' },
    deep(70),
    'unknown-id-1',
  ];
}

/** Whole bodies that are not acceptable JSON, or JSON that must be refused as a whole. */
const HOSTILE_BODIES: { text: string; what: string }[] = [
  { text: '{', what: 'truncated JSON' },
  { text: '{"a":}', what: 'no value' },
  { text: '[1,]', what: 'trailing comma' },
  { text: 'NaN', what: 'NaN' },
  { text: "{'a':1}", what: 'single quotes' },
  { text: '{"a":1} trailing', what: 'trailing text' },
  { text: '1e400', what: 'a number beyond double' },
  { text: '123456789012345678901234567890', what: 'a huge integer' },
  { text: '"\\ud800"', what: 'a lone surrogate escape' },
  { text: '{"a":"\\u0000"}', what: 'a NUL escape' },
  { text: `${'['.repeat(10_000)}${']'.repeat(10_000)}`, what: '10,000 nested arrays' },
  { text: `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, what: '10,000 nested objects' },
  { text: '{"__proto__":{"polluted":true}}', what: '__proto__ key' },
  { text: '{"constructor":{"prototype":{"polluted":true}}}', what: 'constructor key' },
  { text: '[{"__proto__":1}]', what: '__proto__ key in an array' },
  { text: '', what: 'empty JSON body' },
];

const encode = (value: { raw: string; encoded?: string }) => value.encoded ?? encodeURIComponent(value.raw);

function url(template: RouteTemplate, params: Record<string, string>, query: [string, string][]): string {
  const path = template.route.replace(
    /:([A-Za-z0-9_]+)/g,
    (_, name: string) => params[name] ?? encodeURIComponent(template.params[name] ?? 'x'),
  );
  const text = query.map(([k, v]) => `${k}=${v}`).join('&');
  return text ? `${path}?${text}` : path;
}

const queryOf = (template: RouteTemplate): [string, string][] =>
  Object.entries(template.query).map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)]);

/** The well-formed request and `perRoute` broken variants of it (fewer when the route has little to break). */
export function casesFor(template: RouteTemplate, random: () => number, perRoute: number): FuzzRequest[] {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const json = template.body === undefined ? undefined : JSON.stringify(template.body);
  const base = {
    method: template.method,
    ...(json !== undefined ? { body: json, contentType: 'application/json' } : {}),
  };
  const cases: FuzzRequest[] = [{ ...base, url: url(template, {}, queryOf(template)), mutation: 'none' }];
  const paramNames = Object.keys(template.params);
  const queryNames = Object.keys(template.query);
  const bodyFields =
    template.body !== null && typeof template.body === 'object' && !Array.isArray(template.body)
      ? Object.keys(template.body)
      : [];
  const makers: (() => FuzzRequest)[] = [];
  if (paramNames.length) {
    makers.push(() => {
      const name = pick(paramNames);
      const value = pick(HOSTILE_TEXT);
      return { ...base, url: url(template, { [name]: encode(value) }, queryOf(template)), mutation: `params.${name}` };
    });
  }
  makers.push(() => {
    const name =
      queryNames.length && random() < 0.8
        ? pick(queryNames)
        : pick(['unknownParam', '__proto__', 'a%00b', 'constructor']);
    // A wait parameter gets only values no route takes (a valid large one would make the request wait).
    const value = pick(
      template.waits?.includes(name) ? HOSTILE_TEXT.filter((v) => !/^\d+$/.test(v.raw)) : HOSTILE_TEXT,
    );
    const query = queryOf(template).filter(([k]) => k !== name);
    const repeated = random() < 0.15 ? [[name, encode(value)] as [string, string]] : [];
    return {
      ...base,
      url: url(template, {}, [...query, [name, encode(value)], ...repeated]),
      mutation: `query.${name}`,
    };
  });
  if (template.method !== 'GET' && template.method !== 'DELETE') {
    makers.push(() => {
      const body = pick(HOSTILE_BODIES);
      return {
        method: template.method,
        url: url(template, {}, queryOf(template)),
        body: body.text,
        contentType: 'application/json',
        mutation: `body text: ${body.what}`,
      };
    });
    makers.push(() => ({
      method: template.method,
      url: url(template, {}, queryOf(template)),
      body: json ?? '{}',
      contentType: pick(['application/xml', 'text/plain', 'application/x-www-form-urlencoded']),
      mutation: 'content type',
    }));
    makers.push(() => {
      const value = pick(hostileValues(random));
      if (bodyFields.length === 0)
        return {
          ...base,
          url: url(template, {}, queryOf(template)),
          body: JSON.stringify(Array.isArray(template.body) ? [value] : value),
          contentType: 'application/json',
          mutation: 'body value',
        };
      const field = random() < 0.9 ? pick(bodyFields) : 'unknownField';
      const body = { ...(template.body as Record<string, unknown>), [field]: value };
      return {
        ...base,
        url: url(template, {}, queryOf(template)),
        body: JSON.stringify(body),
        contentType: 'application/json',
        mutation: `body.${field}`,
      };
    });
  }
  for (let i = 0; i < perRoute; i++) cases.push(pick(makers)());
  return cases.map((c) => withoutWaits(c, template));
}

/** Keeps a request from waiting: a wait parameter the variant did not break is set back to 0. */
function withoutWaits(request: FuzzRequest, template: RouteTemplate): FuzzRequest {
  if (!template.waits?.length) return request;
  const [path, query = ''] = request.url.split('?');
  const pairs = query.split('&').filter((p) => p !== '');
  for (const name of template.waits) {
    if (request.mutation === `query.${name}`) continue;
    const kept = pairs.filter((p) => !p.startsWith(`${name}=`));
    pairs.length = 0;
    pairs.push(...kept, `${name}=0`);
  }
  return { ...request, url: `${path}?${pairs.join('&')}` };
}

/** A request body for a route's JSON schema: every required property with a valid value. */
export function exampleOf(schema: Record<string, unknown> | undefined, known: Record<string, unknown>): unknown {
  if (!schema) return undefined;
  if (schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'))) {
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const out: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(properties)) {
      if (!((schema.required as string[] | undefined) ?? []).includes(name) && !(name in known)) continue;
      out[name] = name in known ? known[name] : exampleOf(property, {});
    }
    return out;
  }
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.type === 'integer' || schema.type === 'number') return (schema.minimum as number | undefined) ?? 1;
  if (schema.type === 'boolean') return false;
  if (schema.type === 'array') return [exampleOf(schema.items as Record<string, unknown>, {})];
  if (schema.type === 'string') return 'x';
  if (Array.isArray(schema.anyOf)) return exampleOf(schema.anyOf[0] as Record<string, unknown>, known);
  return {};
}
