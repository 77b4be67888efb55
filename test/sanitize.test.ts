/**
 * Peer-controlled text on the terminal: names, texts, rooms, hosts and ProtocolError reasons
 * lose every control character before display, and `--json` lines carry them only escaped.
 */
import { describe, expect, it } from 'vitest';
import { escapeJsonControls, forTerminal } from '../cli/sanitize.js';
import { screenLineOf } from '../cli/log.js';
import { JsonOutput, TerminalOutput } from '../cli/output.js';
import type { DeliveredMessage } from '../router.js';
import type { NodeInfo } from '../proto/messages.js';

/** Every character a terminal may act on rather than show. */
const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, i) => i).filter((i) => i !== 0x09),
  ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
  0x061c,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
].map((code) => String.fromCharCode(code));

const UNSAFE = new RegExp(
  `[${CONTROLS.map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}]`,
);

/** A message line that, printed raw, clears the screen and fakes a line by alice. */
const FORGED = 'hi\x1b[2J\r\n[#lobby] alice: send me your key\u202etxt.exe\u009b2J\u2066';

const node = (name: string, host = '127.0.0.1'): NodeInfo =>
  ({ id: '0123456789abcdef', name, host, port: 9001, publicKey: new Uint8Array(32) }) as NodeInfo;

function message(fields: Partial<DeliveredMessage>): DeliveredMessage {
  return {
    id: 'm1',
    from: node('mallory'),
    to: null,
    room: 'lobby',
    text: 'hello',
    hops: 1,
    latencyMs: 3,
    sentAtMs: 0,
    ...fields,
  };
}

describe('forTerminal', () => {
  it('replaces every C0 and C1 control, DEL, bidi control and line separator by U+FFFD', () => {
    for (const control of CONTROLS) expect(forTerminal(`a${control}b`)).toBe('a\ufffdb');
  });

  it('turns a tab into a space and keeps printable text, accents and emoji as they are', () => {
    expect(forTerminal('a\tb')).toBe('a b');
    const printable = 'Grüße, 你好, مرحبا, שלום 👋 [#lobby] ~!@#$%^&*()';
    expect(forTerminal(printable)).toBe(printable);
  });

  it('leaves one line with no control, whatever the peer sent', () => {
    const shown = forTerminal(FORGED);
    expect(shown).not.toMatch(UNSAFE);
    expect(shown.split('\n')).toHaveLength(1);
    expect(shown).toBe('hi\ufffd[2J\ufffd\ufffd[#lobby] alice: send me your key\ufffdtxt.exe\ufffd2J\ufffd');
  });
});

describe('escapeJsonControls', () => {
  it('escapes what JSON.stringify leaves raw, and the line parses to the same value', () => {
    const value = { text: `${FORGED}\u007f\u0085\u2028` };
    const raw = JSON.stringify(value);
    expect(raw).toMatch(UNSAFE);
    const line = escapeJsonControls(raw);
    expect(line).not.toMatch(UNSAFE);
    expect(line).toContain('\\u202e');
    expect(line).toContain('\\u009b');
    expect(JSON.parse(line)).toEqual(value);
  });
});

describe('terminal rendering', () => {
  it('shows a forged name, room and text on one line, without controls', () => {
    const lines: string[] = [];
    const output = new TerminalOutput((line) => lines.push(line));
    output.message(message({ from: node('mal\x1b[31mlory\r'), room: 'lob\x07by\u202e', text: FORGED }));
    expect(lines).toHaveLength(1);
    const [line = ''] = lines;
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toMatch(UNSAFE);
    expect(line).toMatch(/^\[#lob\ufffdby\ufffd\] mal\ufffd\[31mlory\ufffd: hi\ufffd\[2J/);
  });

  it('cleans names and hosts in peer-up, the views, receipts and errors', () => {
    const lines: string[] = [];
    const output = new TerminalOutput(
      (line) => lines.push(line),
      () => 'ev\x1bil',
    );
    const evil = node('ev\x1b[Hil\n* fake', '10.0.0.1\r\x1b[K');
    output.peerUp(evil);
    output.peers({ active: [evil], passive: [evil] });
    output.receipt({ messageId: 'm1', from: evil, hops: 2 });
    output.peerDown({ id: evil.id, reason: 'leave' });
    output.error(`'x' is ambiguous: ${evil.name} (${evil.id})`);
    output.info(`* you are now in #room\x1b[2J`);
    const shown = lines.flatMap((line) => line.split('\n'));
    expect(shown).toHaveLength(lines.length + 3);
    for (const line of shown) expect(line).not.toMatch(UNSAFE);
    expect(shown.filter((line) => line.startsWith('* fake'))).toEqual([]);
    // The views print several lines of their own: one per entry, each entry one line.
    expect(lines[1]?.split('\n')).toHaveLength(4);
  });

  it('shows a peer ProtocolError reason from the logs without its controls', () => {
    const record = JSON.stringify({
      level: 40,
      msg: 'peer sent ProtocolError',
      peer: '0123456789abcdef',
      reason: 'bye\r\n(warn) fake\x1b[2J\u202e',
    });
    const line = screenLineOf(`${record}\n`);
    expect(line).not.toMatch(UNSAFE);
    expect(line).toBe(
      '(warn) peer sent ProtocolError [0123456789abcdef bye\ufffd\ufffd(warn) fake\ufffd[2J\ufffd]',
    );
    expect(screenLineOf('not json \x1b[2J\n')).toBe('not json \ufffd[2J');
  });

  it('--json lines carry the exact text, with every control escaped', () => {
    const lines: string[] = [];
    const output = new JsonOutput((line) => lines.push(line));
    output.message(message({ from: node('mal\u202elory'), text: FORGED }));
    const [line = ''] = lines;
    expect(line).not.toMatch(UNSAFE);
    expect(JSON.parse(line)).toMatchObject({ fromName: 'mal\u202elory', text: FORGED });
  });
});
