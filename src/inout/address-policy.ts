import ipaddr from 'ipaddr.js';

/**
 * Which addresses an input reference may be fetched from. The check runs on the IP a
 * host name resolves to (the one the connection then uses), so a name that points at
 * an internal address is refused like the address itself.
 */

export interface AddressPolicy {
  /** Host names (`example.org`, `*.example.org`) or CIDR ranges; when not empty, only these. */
  allow: readonly string[];
  /** Host names or CIDR ranges that are always refused. */
  deny: readonly string[];
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud metadata services that live outside link-local space. */
const METADATA = ['fd00:ec2::254/128', '100.100.100.200/32'].map((c) => ipaddr.parseCIDR(c));

/** Ranges no reference may ever reach, whatever the allow list says. */
const NEVER = new Set(['unspecified', 'broadcast', 'multicast', 'linkLocal']);

function normalize(ip: string): Addr | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  const addr = ipaddr.parse(ip);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;
}

function inCidr(addr: Addr, cidr: [Addr, number]): boolean {
  return addr.kind() === cidr[0].kind() && addr.match(cidr as [ipaddr.IPv4, number] & [ipaddr.IPv6, number]);
}

function matchesEntry(entry: string, hostname: string, addr: Addr): boolean {
  const e = entry.trim().toLowerCase();
  if (e.includes('/') && ipaddr.isValidCIDR(e)) return inCidr(addr, ipaddr.parseCIDR(e));
  const single = normalize(e.replace(/^\[|\]$/g, ''));
  if (single) return single.kind() === addr.kind() && single.toString() === addr.toString();
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (e.startsWith('*.')) return host.endsWith(e.slice(1));
  return host === e.replace(/\.$/, '');
}

/**
 * Returns why the address may not be fetched, or undefined when it may.
 * `hostname` is the name from the URL (the IP itself for IP literals).
 */
export function refusalReason(ip: string, hostname: string, policy: AddressPolicy): string | undefined {
  const addr = normalize(ip);
  if (!addr) return `${ip} is not an IP address`;
  const range = addr.range();
  if (NEVER.has(range) || METADATA.some((c) => inCidr(addr, c))) {
    return `${addr.toString()} is a ${range === 'unicast' ? 'metadata service' : range} address`;
  }
  if (policy.deny.some((d) => matchesEntry(d, hostname, addr))) return `${hostname} is on the deny list`;
  if (policy.allow.length > 0) {
    return policy.allow.some((a) => matchesEntry(a, hostname, addr)) ? undefined : `${hostname} is not on the allow list`;
  }
  return range === 'unicast' ? undefined : `${addr.toString()} is a ${range} address`;
}
