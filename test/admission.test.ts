/**
 * Admission: connection slots that one client cannot exhaust. An IPv6 /64 counts as one address,
 * an IPv4 /24 has its own cap, one address cannot drain the global accept bucket, and inbound
 * connections leave slots for the node's own dials.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig, type NodeConfig } from '../config.js';
import { Admission, addressKeyOf, subnetKeyOf } from '../link/admission.js';
import { SimClock } from '../utils/sim-clock.js';

function admission(config: Partial<NodeConfig>): { admission: Admission; clock: SimClock } {
  const clock = new SimClock(1_000);
  return { admission: new Admission(resolveConfig(config), clock), clock };
}

/** Admits `host` if it may, and counts it open; returns the refusal otherwise. */
function connect(a: Admission, host: string): string | undefined {
  const refusal = a.refuseInbound(host);
  if (!refusal) a.opened(host, 'inbound');
  return refusal;
}

describe('address keys', () => {
  it('an IPv6 address counts by its /64, however it is written', () => {
    expect(addressKeyOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKeyOf('2001:DB8:0:0:ffff:1:2:3')).toBe('2001:db8:0:0::/64');
    expect(addressKeyOf('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(addressKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(addressKeyOf('192.0.2.7')).toBe('192.0.2.7');
  });

  it('an IPv4 address has a /24; IPv6 none', () => {
    expect(subnetKeyOf('192.0.2.7')).toBe('192.0.2.0/24');
    expect(subnetKeyOf('2001:db8::1')).toBeUndefined();
  });
});

describe('Admission', () => {
  it('refuses the 17th connection from one IPv6 /64 under 17 different addresses; another /64 is admitted', () => {
    const { admission: a } = admission({ maxConnectionsPerIp: 16, acceptBurstPerAddress: 100 });
    for (let i = 1; i <= 16; i++) expect(connect(a, `2001:db8::${i.toString(16)}`)).toBeUndefined();
    expect(connect(a, '2001:db8::ffff:1')).toBe('max-connections-per-ip');
    expect(connect(a, '2001:db8:0:1::1')).toBeUndefined();
    a.closed('2001:db8::1', 'inbound');
    expect(connect(a, '2001:db8::abcd')).toBeUndefined();
  });

  it('caps an IPv4 /24 across its addresses', () => {
    const { admission: a } = admission({
      maxConnectionsPerIp: 4,
      maxConnectionsPerSubnet: 6,
      acceptBurstPerAddress: 100,
    });
    for (let i = 0; i < 4; i++) expect(connect(a, '198.51.100.1')).toBeUndefined();
    expect(connect(a, '198.51.100.1')).toBe('max-connections-per-ip');
    expect(connect(a, '198.51.100.2')).toBeUndefined();
    expect(connect(a, '198.51.100.3')).toBeUndefined();
    expect(connect(a, '198.51.100.4')).toBe('max-connections-per-subnet');
    expect(connect(a, '198.51.101.1')).toBeUndefined();
  });

  it('one address cannot drain the global accept bucket: its own bucket empties first', () => {
    const { admission: a, clock } = admission({
      acceptRatePerSecond: 1,
      acceptBurst: 10,
      acceptRatePerAddressPerSecond: 1,
      acceptBurstPerAddress: 3,
    });
    const refusals: Array<string | undefined> = [];
    // Each connection closes at once: only the rates are under test.
    for (let i = 0; i < 20; i++) {
      const refusal = connect(a, '203.0.113.9');
      if (!refusal) a.closed('203.0.113.9', 'inbound');
      refusals.push(refusal);
    }
    expect(refusals.filter((r) => r === undefined)).toHaveLength(3);
    expect(refusals.slice(3).every((r) => r === 'accept-rate-per-ip')).toBe(true);
    // The global bucket still holds 7 tokens for everyone else.
    for (let i = 0; i < 7; i++) expect(connect(a, `192.0.2.${i + 1}`)).toBeUndefined();
    expect(connect(a, '192.0.2.100')).toBe('accept-rate');
    clock.advance(1000);
    expect(connect(a, '203.0.113.9')).toBeUndefined();
  });

  it('inbound connections leave reservedDialSlots for the node’s own dials', () => {
    const { admission: a } = admission({
      maxConnections: 12,
      reservedDialSlots: 3,
      acceptBurstPerAddress: 100,
    });
    for (let i = 0; i < 9; i++) expect(connect(a, `192.0.2.${i + 1}`)).toBeUndefined();
    expect(connect(a, '192.0.2.50')).toBe('max-connections');
    for (let i = 0; i < 3; i++) {
      expect(a.mayDial()).toBe(true);
      a.opened('198.51.100.1', 'outbound');
    }
    expect(a.mayDial()).toBe(false);
    expect(a.connectionCount).toBe(12);
  });

  it('keeps back at most a quarter of a small maxConnections', () => {
    const { admission: a } = admission({
      maxConnections: 5,
      reservedDialSlots: 32,
      acceptBurstPerAddress: 100,
    });
    for (let i = 0; i < 4; i++) expect(connect(a, `192.0.2.${i + 1}`)).toBeUndefined();
    expect(connect(a, '192.0.2.50')).toBe('max-connections');
    expect(a.mayDial()).toBe(true);
  });

  it('loopback stays exempt from the per-address caps and rates unless limitLoopback', () => {
    const { admission: a } = admission({ maxConnectionsPerIp: 2, acceptBurstPerAddress: 2 });
    for (let i = 0; i < 10; i++) expect(connect(a, '127.0.0.1')).toBeUndefined();
    const { admission: limited } = admission({
      maxConnectionsPerIp: 2,
      acceptBurstPerAddress: 5,
      limitLoopback: true,
    });
    expect(connect(limited, '127.0.0.1')).toBeUndefined();
    expect(connect(limited, '127.0.0.1')).toBeUndefined();
    expect(connect(limited, '127.0.0.1')).toBe('max-connections-per-ip');
  });
});
