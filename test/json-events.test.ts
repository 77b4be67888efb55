/**
 * The `--json` interface as bytes: one line per event, `event` first and the fields in the order
 * README documents, for every event of the schema in events.ts; and the reader the lab, the
 * scripts and the tests share turns those lines back into typed events and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { JsonOutput, type ChatOutput } from '../cli/output.js';
import { JSON_EVENT_NAMES, isJsonEvent, parseJsonEvent } from '../events.js';
import type { NodeInfo } from '../proto/messages.js';

const alice = { id: '0123456789abcdef', name: 'alice', host: '127.0.0.1', port: 9001 };
const bob = { id: 'fedcba9876543210', name: 'bob', host: '::1', port: 9002 };
/** A NodeInfo carries a key that `--json` never shows. */
const info = (peer: typeof alice): NodeInfo => ({ ...peer, publicKey: new Uint8Array(32) }) as NodeInfo;

/** Every event the CLI writes, once, in the order of the schema. */
function everyLine(): string[] {
  const lines: string[] = [];
  const output: ChatOutput = new JsonOutput((line) => lines.push(line));
  output.ready(alice);
  output.peerUp({ ...bob });
  output.peerDown({ id: bob.id, reason: 'leave' });
  output.sent({ id: 'm1', to: null, room: 'lobby', text: 'hi' });
  output.message({
    id: 'm2',
    from: info(bob),
    to: alice.id,
    room: null,
    text: 'psst "quoted"',
    hops: 2,
    latencyMs: -3,
    sentAtMs: 1_700_000_000_000,
  });
  output.receipt({ messageId: 'm3', from: info(bob), hops: 1 });
  output.receiptMissing({ messageId: 'm4', to: bob.id });
  output.peers({ active: [info(bob)], passive: [info(alice)] });
  output.stats({ 'node.linksUp': 1, 'router.delivered': 2 });
  output.error('no peer named nobody');
  output.info('help text is for people');
  return lines;
}

describe('--json events', () => {
  it('writes each event as the same bytes as always: event first, fields in schema order', () => {
    expect(everyLine()).toEqual([
      '{"event":"ready","id":"0123456789abcdef","name":"alice","host":"127.0.0.1","port":9001}',
      '{"event":"peer-up","id":"fedcba9876543210","name":"bob","host":"::1","port":9002}',
      '{"event":"peer-down","id":"fedcba9876543210","reason":"leave"}',
      '{"event":"sent","id":"m1","to":null,"room":"lobby","text":"hi"}',
      '{"event":"message","id":"m2","from":"fedcba9876543210","fromName":"bob","to":"0123456789abcdef",' +
        '"room":null,"text":"psst \\"quoted\\"","hops":2,"latencyMs":-3}',
      '{"event":"receipt","messageId":"m3","from":"fedcba9876543210","hops":1}',
      '{"event":"no-receipt","messageId":"m4","to":"fedcba9876543210"}',
      '{"event":"peers","active":[{"id":"fedcba9876543210","name":"bob","host":"::1","port":9002}],' +
        '"passive":[{"id":"0123456789abcdef","name":"alice","host":"127.0.0.1","port":9001}]}',
      '{"event":"stats","node.linksUp":1,"router.delivered":2}',
      '{"event":"error","message":"no peer named nobody"}',
    ]);
  });

  it('names every event of the schema, each once, and reads each line back as that event', () => {
    const events = everyLine().map((line) => parseJsonEvent(line));
    expect(events.map((event) => event?.event)).toEqual([...JSON_EVENT_NAMES]);
    const message = events.find((event) => isJsonEvent(event, 'message'));
    expect(message?.text).toBe('psst "quoted"');
    expect(isJsonEvent(events[0], 'peer-up')).toBe(false);
  });

  it.each([
    ['not json', 'no JSON'],
    ['[1,2]', 'array'],
    ['null', 'null'],
    ['"ready"', 'a string'],
    ['{"id":"x"}', 'no event field'],
    ['{"event":7}', 'a number as name'],
    ['{"event":"toString"}', 'an inherited name'],
    ['{"event":"peer:up"}', 'a library event name'],
  ])('reads %j (%s) as no event', (line) => {
    expect(parseJsonEvent(line)).toBeUndefined();
  });

  it('is the schema README documents: one table row per event', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### `--json`'), readme.indexOf('## The lab'));
    const documented = [...section.matchAll(/^\| `([a-z-]+)` +\|/gm)].map((match) => match[1]);
    expect(documented).toEqual([...JSON_EVENT_NAMES]);
  });
});
