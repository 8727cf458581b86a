/**
 * Which network destinations HTTP tasks may reach. By default none of: loopback, private, link-local,
 * shared, multicast and reserved ranges, and the addresses of this machine's own interfaces (so a definition
 * cannot call the server's own API or a service beside it). IPv6 forms that embed an IPv4 address (mapped,
 * NAT64, 6to4) are judged by that address. An allow-list opens chosen hosts, addresses or ranges.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { WaymarkError } from '../core/errors.js';

type Family = 'ipv4' | 'ipv6';

const BLOCKED_IPV4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const BLOCKED_IPV6: Array<[string, number]> = [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 32], // Teredo (hides an IPv4 address)
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local
  ['ff00::', 8], // multicast
];

const BLOCKED = new BlockList();
for (const [network, prefix] of BLOCKED_IPV4) BLOCKED.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of BLOCKED_IPV6) BLOCKED.addSubnet(network, prefix, 'ipv6');

/** Hosts, addresses and ranges HTTP tasks may reach although the default policy refuses them. */
export interface AllowList {
  /** The entries as given. */
  readonly entries: readonly string[];
  allows(host: string, port: number, address: string): boolean;
}

interface HostEntry {
  host: string;
  port: number | undefined;
}

interface RangeEntry {
  list: BlockList;
  port: number | undefined;
}

/**
 * Parses allow-list entries: a host name (`localhost`, `api.internal`), an address (`127.0.0.1`, `::1`,
 * `[::1]`), either with a port (`localhost:9000`, `[::1]:9000`), or a range (`10.0.0.0/8`, `fd00::/8`).
 * A bad entry is E_INVALID_INPUT naming it.
 */
export function parseAllowList(entries: readonly string[] = []): AllowList {
  if (!Array.isArray(entries))
    throw new WaymarkError('E_INVALID_INPUT', 'the HTTP allow-list must be an array of strings');
  const hosts: HostEntry[] = [];
  const ranges: RangeEntry[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if ('host' in parsed) hosts.push(parsed);
    else ranges.push(parsed);
  }
  return {
    entries: Object.freeze([...entries]),
    allows(host, port, address) {
      const name = bareHost(host);
      if (hosts.some((h) => h.host === name && (h.port === undefined || h.port === port))) return true;
      const ip = canonicalAddress(address);
      return (
        ip !== undefined &&
        ranges.some((r) => (r.port === undefined || r.port === port) && r.list.check(ip.address, ip.family))
      );
    },
  };
}

/**
 * Why an HTTP task may not connect to `address` (what `host` resolved to) on `port`, or undefined when it
 * may. `own` is this machine's addresses. (Default: those of its network interfaces, read now)
 */
export function destinationRefusal(
  allow: AllowList,
  host: string,
  port: number,
  address: string,
  own: BlockList = ownAddresses(),
): string | undefined {
  if (allow.allows(host, port, address)) return undefined;
  const ip = canonicalAddress(address);
  if (!ip) return `${address} is not an IP address`;
  if (BLOCKED.check(ip.address, ip.family)) return `${address} is a loopback, private, link-local or reserved address`;
  if (own.check(ip.address, ip.family)) return `${address} is an address of this server`;
  return undefined;
}

/** The addresses of this machine's network interfaces. */
export function ownAddresses(): BlockList {
  const own = new BlockList();
  for (const infos of Object.values(networkInterfaces())) {
    for (const info of infos ?? []) {
      const ip = canonicalAddress(info.address);
      if (ip) own.addAddress(ip.address, ip.family);
    }
  }
  return own;
}

/**
 * An address as it is judged: an IPv6 form embedding an IPv4 address becomes that address. Undefined if not an address.
 */
export function canonicalAddress(address: string): { address: string; family: Family } | undefined {
  const bare = bareHost(address).replace(/%.*$/, '');
  const version = isIP(bare);
  if (version === 4) return { address: bare, family: 'ipv4' };
  if (version !== 6) return undefined;
  const groups = ipv6Groups(bare);
  const embedded = embeddedIpv4(groups);
  return embedded
    ? { address: embedded, family: 'ipv4' }
    : { address: groups.map((g) => g.toString(16)).join(':'), family: 'ipv6' };
}

/** A host as URLs and entries compare it: no brackets, no trailing dot, lower case. */
function bareHost(host: string): string {
  return host
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

function parseEntry(entry: unknown): HostEntry | RangeEntry {
  const bad = (reason: string) =>
    new WaymarkError(
      'E_INVALID_INPUT',
      `HTTP allow-list entry ${JSON.stringify(entry)} ${reason}; give a host, ` +
        `host:port, an address, [v6]:port or a range like 10.0.0.0/8`,
      {
        details: { entry: typeof entry === 'string' ? entry : null },
      },
    );
  if (typeof entry !== 'string' || entry.trim() === '') throw bad('is not a non-empty string');
  const text = entry.trim().toLowerCase();
  if (text.includes('://')) throw bad('is a URL, not a host');
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const network = text.slice(0, slash);
    const prefix = text.slice(slash + 1);
    const version = isIP(network);
    if (version === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (version === 4 ? 32 : 128))
      throw bad('is not a valid range');
    const list = new BlockList();
    list.addSubnet(network, Number(prefix), version === 4 ? 'ipv4' : 'ipv6');
    return { list, port: undefined };
  }
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) [host, portText] = [bracketed[1]!, bracketed[2]];
  else if (isIP(text) !== 6) {
    const withPort = /^(.*):(\d+)$/.exec(text);
    if (withPort) [host, portText] = [withPort[1]!, withPort[2]];
  }
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(port >= 1 && port <= 65_535)) throw bad('has a port outside 1-65535');
  const ip = canonicalAddress(host);
  if (ip) {
    const list = new BlockList();
    list.addAddress(ip.address, ip.family);
    return { list, port };
  }
  if (!/^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?$/.test(host) || host.includes('..')) throw bad('is not a host name');
  // A name URLs read as an address (2130706433, 0x7f.1) is that address.
  const canonical = new URL(`http://${host}`).hostname;
  const asIp = canonicalAddress(canonical);
  if (asIp) {
    const list = new BlockList();
    list.addAddress(asIp.address, asIp.family);
    return { list, port };
  }
  return { host: bareHost(canonical), port };
}

/** The eight 16-bit groups of a valid IPv6 address (a dotted IPv4 tail included). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const [a, b, c, d] = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => parseInt(group, 16));
}

/**
 * The IPv4 address inside a mapped (::ffff:a.b.c.d, ::ffff:0:a.b.c.d),
 * NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address.
 */
function embeddedIpv4(groups: number[]): string | undefined {
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  const v4 = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join('.');
  if (zeros(0, 5) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!);
  if (zeros(0, 4) && groups[4] === 0xffff && groups[5] === 0) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!);
  return undefined;
}
