/**
 * The CLI as a user runs it: real `node dist/cli/main.js` processes on 127.0.0.1, driven
 * through stdin and checked on stdout (`--json` events), stderr and exit codes. Ports come from
 * `--port 0` and the `ready` event, except for the `p2pchat N` shorthand, which has fixed ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { killAll, runCli, startCli, type CliProcess, type JsonEventOf } from './helpers/cli-process.js';
import { membershipNames, routerNames } from '../strategies.js';

afterEach(() => killAll());

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Starts a `--json` node on a free port and waits for its `ready` event. */
async function startNode(args: string[]): Promise<{ cli: CliProcess; self: JsonEventOf<'ready'> }> {
  const cli = startCli(['--json', '--port', '0', ...args]);
  const self = await cli.waitForEvent('ready');
  return { cli, self };
}

/** Join retries every few hundred ms instead of up to 10 s. */
const FAST_RETRY = ['--retry-base-backoff-ms', '50', '--retry-max-backoff-ms', '300'];

const addressOf = (self: JsonEventOf<'ready'>): string => `127.0.0.1:${String(self.port)}`;

/** A port nothing listens on now (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'p2pchat-cli-'));
}

/** alice, and bob joined through alice as a seed, each seeing the other up. */
async function pair(extraArgs: string[] = []) {
  const alice = await startNode(['--name', 'alice', ...extraArgs]);
  const bob = await startNode(['--name', 'bob', '--seed', addressOf(alice.self), ...extraArgs]);
  await Promise.all([
    alice.cli.waitForEvent('peer-up', (e) => e.id === bob.self.id),
    bob.cli.waitForEvent('peer-up', (e) => e.id === alice.self.id),
  ]);
  return { alice, bob };
}

describe('p2pchat --json', () => {
  it('two nodes meet through a seed, chat in the lobby and in private, and one quits', async () => {
    const { alice, bob } = await pair();
    expect(alice.self).toMatchObject({ name: 'alice', host: '127.0.0.1' });
    expect(alice.self.id).toMatch(/^[0-9a-f]{16}$/);
    expect(alice.self.port).toBeGreaterThan(0);
    expect(await bob.cli.waitForEvent('peer-up')).toMatchObject({
      id: alice.self.id,
      name: 'alice',
      port: alice.self.port,
    });

    bob.cli.send('hello lobby');
    const broadcast = await alice.cli.waitForEvent('message', (e) => e.text === 'hello lobby');
    expect(broadcast).toMatchObject({ from: bob.self.id, fromName: 'bob', room: 'lobby', to: null, hops: 1 });
    expect(typeof broadcast.latencyMs).toBe('number');
    const sent = await bob.cli.waitForEvent('sent', (e) => e.text === 'hello lobby');
    expect(sent).toMatchObject({ id: broadcast.id, to: null, room: 'lobby' });

    bob.cli.send('/msg alice hi');
    const direct = await alice.cli.waitForEvent('message', (e) => e.text === 'hi');
    expect(direct).toMatchObject({ from: bob.self.id, fromName: 'bob', to: alice.self.id, room: null });
    const receipt = await bob.cli.waitForEvent('receipt', (e) => e.messageId === direct.id);
    expect(receipt).toMatchObject({ from: alice.self.id, hops: 1 });

    bob.cli.send('/peers');
    const peers = await bob.cli.waitForEvent('peers');
    expect(peers.active).toEqual([
      { id: alice.self.id, name: 'alice', host: '127.0.0.1', port: alice.self.port },
    ]);
    expect(peers.passive).toEqual(expect.any(Array));

    bob.cli.send('/stats');
    const { event: _event, ...counters } = await bob.cli.waitForEvent('stats');
    expect(Object.keys(counters).length).toBeGreaterThan(3);
    for (const value of Object.values(counters)) expect(typeof value).toBe('number');
    const components = new Set(Object.keys(counters).map((key) => key.split('.')[0]));
    expect([...components]).toEqual(expect.arrayContaining(['node', 'membership', 'router']));

    bob.cli.send('/msg nobody x');
    const error = await bob.cli.waitForEvent('error');
    expect(error.message).toMatch(/nobody/);

    bob.cli.send('/quit');
    expect(await bob.cli.waitForExit()).toEqual({ code: 0, signal: null });
    expect(await alice.cli.waitForEvent('peer-down')).toEqual({
      event: 'peer-down',
      id: bob.self.id,
      reason: 'leave',
    });
  });

  it('SIGTERM leaves the mesh cleanly: exit 0 and the neighbour sees a leave', async () => {
    const { alice, bob } = await pair();
    bob.cli.kill('SIGTERM');
    expect(await bob.cli.waitForExit()).toEqual({ code: 0, signal: null });
    const down = await alice.cli.waitForEvent('peer-down');
    expect(down).toMatchObject({ id: bob.self.id, reason: 'leave' });
  });

  it('keeps stdout for JSON events only; logs go to stderr as pino JSON', async () => {
    const { alice, bob } = await pair(['--log-level', 'debug']);
    bob.cli.send('hello');
    bob.cli.send('/peers');
    bob.cli.send('/nonsense');
    await alice.cli.waitForEvent('message', (e) => e.text === 'hello');
    await bob.cli.waitForEvent('error', (e) => /nonsense/.test(String(e.message)));
    for (const { cli } of [alice, bob]) {
      cli.kill('SIGTERM');
      await cli.waitForExit();
      expect(cli.lines.length).toBeGreaterThan(1);
      for (const line of cli.lines) {
        expect(() => JSON.parse(line) as unknown, line).not.toThrow();
        expect(JSON.parse(line)).toHaveProperty('event');
      }
      const logLines = cli.stderr.trimEnd().split('\n');
      expect(logLines.length).toBeGreaterThan(0);
      for (const line of logLines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(Number) });
    }
    expect(alice.cli.stderr).toMatch(/"msg":"node listening"/);
  });

  it('writes logs to --log-file and nothing to stderr', async () => {
    const dir = await tempDir();
    try {
      const logFile = join(dir, 'node.log');
      const { cli } = await startNode(['--log-file', logFile]);
      cli.kill('SIGTERM');
      expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
      expect(cli.stderr).toBe('');
      const logLines = (await readFile(logFile, 'utf8')).trimEnd().split('\n');
      expect(logLines.length).toBeGreaterThanOrEqual(2);
      for (const line of logLines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(Number) });
      expect(logLines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toContain('node stopped');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps running after the end of its input, until SIGTERM', async () => {
    const alice = await startNode(['--name', 'alice']);
    alice.cli.endInput();
    // Still up: a newcomer joins through it after its stdin closed.
    const bob = await startNode(['--name', 'bob', '--seed', addressOf(alice.self)]);
    await alice.cli.waitForEvent('peer-up', (e) => e.id === bob.self.id);
    await bob.cli.waitForEvent('peer-up', (e) => e.id === alice.self.id);
    expect(alice.cli.exit).toBeUndefined();
    alice.cli.kill('SIGTERM');
    expect(await alice.cli.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('warns about an unreachable seed and keeps retrying until it answers', async () => {
    const port = await closedPort();
    const bob = await startNode(['--name', 'bob', '--seed', `127.0.0.1:${port}`, ...FAST_RETRY]);
    await bob.cli.waitForStderr((line) => /seed unreachable/.test(line), 'a warning');
    const warning = JSON.parse(bob.cli.stderrLines.find((l) => /seed unreachable/.test(l)) ?? '{}') as object;
    expect(warning).toMatchObject({ level: 40, seed: `127.0.0.1:${port}` });
    bob.cli.send('/peers');
    expect(await bob.cli.waitForEvent('peers')).toMatchObject({ active: [] });
    // The seed comes up later, on the address bob was given.
    const seed = await startNode(['--name', 'seed', '--port', String(port)]);
    await bob.cli.waitForEvent('peer-up', (e) => e.id === seed.self.id);
  });

  it('warns about a refused handshake and keeps running', async () => {
    const alice = await startNode(['--name', 'alice', '--network', 'red']);
    const bob = await startNode(['--network', 'blue', '--seed', addressOf(alice.self), ...FAST_RETRY]);
    const refused = await bob.cli.waitForStderr((line) => /"code":"NETWORK"/.test(line), 'the refusal');
    expect(JSON.parse(refused)).toMatchObject({ level: 40, detail: expect.stringMatching(/red/) });
    await bob.cli.waitForStderr((line) => /seed unreachable/.test(line), 'a retry');
    bob.cli.send('/peers');
    expect(await bob.cli.waitForEvent('peers')).toMatchObject({ active: [] });
    expect(bob.cli.events.filter((e) => e.event === 'peer-up')).toEqual([]);
  });

  it('keeps the identity in --data-dir with mode 0600, refuses it open to others, and refuses a garbage key', async () => {
    const dir = await tempDir();
    try {
      const first = await startNode(['--data-dir', dir]);
      first.cli.kill('SIGTERM');
      await first.cli.waitForExit();
      expect((await stat(join(dir, 'identity.pem'))).mode & 0o777).toBe(0o600);
      const second = await startNode(['--data-dir', dir]);
      expect(second.self.id).toBe(first.self.id);
      second.cli.kill('SIGTERM');
      await second.cli.waitForExit();

      if (process.platform !== 'win32') {
        await chmod(join(dir, 'identity.pem'), 0o644);
        const exposed = startCli(['--json', '--port', '0', '--data-dir', dir]);
        expect((await exposed.waitForExit()).code).toBe(1);
        expect(exposed.lines).toEqual([]);
        expectOneLine(exposed.stderr, /identity\.pem is open to other users \(mode 0644\); run chmod 600/);
        await chmod(join(dir, 'identity.pem'), 0o600);
      }

      await writeFile(join(dir, 'identity.pem'), 'not a key\n');
      const bad = startCli(['--json', '--port', '0', '--data-dir', dir]);
      expect((await bad.waitForExit()).code).toBe(1);
      expect(bad.lines).toEqual([]);
      expectOneLine(bad.stderr, /identity\.pem/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('p2pchat N', () => {
  // Fixed ports by design (9000+N): N is chosen high, below the ephemeral port range.
  const [A, B] = [14411, 14412];

  it(`listens on 127.0.0.1:(9000+N) as peer-N, and /connect N dials it`, async () => {
    const a = startCli([String(A), '--json']);
    const aReady = await a.waitForEvent('ready');
    expect(aReady).toMatchObject({ host: '127.0.0.1', port: 9000 + A, name: `peer-${A}` });
    const b = startCli([String(B), '--json']);
    const bReady = await b.waitForEvent('ready');
    expect(bReady).toMatchObject({ port: 9000 + B, name: `peer-${B}` });
    b.send(`/connect ${A}`);
    await b.waitForEvent('peer-up', (e) => e.id === aReady.id && e.port === 9000 + A);
    await a.waitForEvent('peer-up', (e) => e.id === bReady.id && e.name === `peer-${B}`);
  });
});

describe('p2pchat usage', () => {
  it.each([
    [['--bogus'], /--bogus/],
    [['--port', '70000'], /port.*70000/],
    [['--active-size', 'abc'], /--active-size.*abc/],
    [['--seed', 'nonsense'], /--seed.*nonsense/],
    [['--log-level', 'loud'], /--log-level/],
    [['--json', '--port'], /--port/],
    [['12', '13'], /13/],
    // Names inherited by every object are no strategies.
    [['7', '--membership', 'toString'], /unknown membership 'toString'/],
    [['--membership', 'constructor'], /unknown membership 'constructor'/],
    [['--router', 'toString'], /unknown router 'toString'/],
    [['--router', 'hasOwnProperty'], /unknown router 'hasOwnProperty'/],
  ])('refuses %j with exit 2 and one line', async (args, problem) => {
    const cli = await runCli(args);
    expect(cli.exit).toEqual({ code: 2, signal: null });
    expect(cli.lines).toEqual([]);
    const [first, second, ...more] = cli.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^p2pchat: /);
    expect(first).toMatch(problem);
    expect(second).toMatch(/--help/);
    expect(more).toEqual([]);
    expect(cli.stderr).not.toMatch(/^\s+at /m);
  });

  it.each([
    [['--membership', 'toString'], /unknown --membership 'toString'/],
    [['--router', 'flood,constructor'], /unknown --router 'constructor'/],
  ])('lab refuses %j with exit 2 and one line', async (args, problem) => {
    const cli = await runCli(['lab', ...args]);
    expect(cli.exit).toEqual({ code: 2, signal: null });
    expect(cli.lines).toEqual([]);
    const [first, second, ...more] = cli.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^p2pchat lab: /);
    expect(first).toMatch(problem);
    expect(second).toMatch(/--help/);
    expect(more).toEqual([]);
  });

  it('--help prints the usage with the flags and exits 0', async () => {
    const cli = await runCli(['--help']);
    expect(cli.exit).toEqual({ code: 0, signal: null });
    const usage = cli.lines.join('\n');
    expect(usage).toMatch(/^usage: p2pchat/);
    for (const flag of ['--host', '--port', '--seed', '--name', '--data-dir', '--json', '--log-file']) {
      expect(usage).toContain(flag);
    }
    expect(usage).toContain('--active-size');
    expect(usage).toContain('/msg TARGET TEXT');
    // Every registered strategy is listed, read from the registries rather than a copy.
    expect(cli.lines).toContain(`  --membership: ${membershipNames().join(', ')} (default hyparview)`);
    expect(cli.lines).toContain(`  --router: ${routerNames().join(', ')} (default flood)`);
    expect(membershipNames()).toEqual(expect.arrayContaining(['hyparview', 'cyclon', 'full', 'static']));
    expect(routerNames()).toEqual(expect.arrayContaining(['flood', 'gossip', 'plumtree']));
    expect(cli.stderr).toBe('');
  });

  it('--version prints the version of package.json', async () => {
    const cli = await runCli(['--version']);
    expect(cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.lines).toEqual([pkg.version]);
  });

  it('a port in use: exit 1 with one line naming the port', async () => {
    const { self } = await startNode([]);
    const port = String(self.port);
    const second = startCli(['--json', '--port', port]);
    expect((await second.waitForExit()).code).toBe(1);
    expect(second.lines).toEqual([]);
    expectOneLine(second.stderr, new RegExp(`port ${port}.*in use`));
  });
});

describe('p2pchat interactive, stdin a pipe', () => {
  it('prints a received message as a human line and exits 0 at the end of input', async () => {
    const alice = startCli(['--port', '0', '--name', 'alice']);
    const ready = await alice.waitForLine((line) => line.startsWith('* you are alice'), 'the welcome line');
    const port = /at 127\.0\.0\.1:(\d+);/.exec(ready)?.[1];
    expect(port).toBeDefined();
    const bob = await startNode(['--name', 'bob', '--seed', `127.0.0.1:${port}`]);
    await bob.cli.waitForEvent('peer-up');
    await alice.waitForLine((line) => line.includes('bob') && line.includes('joined'), 'bob joined');

    bob.cli.send('good morning alice');
    const shown = await alice.waitForLine((line) => line.includes('good morning alice'), 'the message');
    expect(shown).toMatch(/bob: good morning alice/);
    expect(shown).toMatch(/#lobby/);

    alice.endInput();
    expect(await alice.waitForExit()).toEqual({ code: 0, signal: null });
    await bob.cli.waitForEvent('peer-down', (e) => e.reason === 'leave');
  });

  it('shows what a peer sends without its control characters, one line per message', async () => {
    const alice = startCli(['--port', '0', '--name', 'alice']);
    const ready = await alice.waitForLine((line) => line.startsWith('* you are alice'), 'the welcome line');
    const port = /at 127\.0\.0\.1:(\d+);/.exec(ready)?.[1];
    // A name that clears the screen, and a text that moves up a line (ESC, then NEL, the C1 newline)
    // and fakes alice. A CR would end the line on bob's own stdin.
    const bob = await startNode(['--name', 'bob\x1b[2J\u202e', '--seed', `127.0.0.1:${port}`]);
    await bob.cli.waitForEvent('peer-up');
    bob.cli.send('hi\x1b[1A\u0085[#lobby] alice: my key is hunter2\u009b2J\u2066 end');
    const shown = await alice.waitForLine((line) => line.includes('hunter2'), 'the message');
    expect(shown).toMatch(
      /^\[#lobby\] bob\ufffd\[2J\ufffd: hi\ufffd\[1A\ufffd\[#lobby\] alice: my key is hunter2/,
    );
    expect(shown).toMatch(/\ufffd2J\ufffd end {2}\(1 hop\)$/);
    alice.endInput();
    await alice.waitForExit();
    for (const line of alice.lines) {
      // eslint-disable-next-line no-control-regex -- no control may reach the terminal
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    }
  });

  it('a line and the end of input typed while the node starts are not lost', async () => {
    const dir = await tempDir();
    try {
      // --data-dir makes the start asynchronous (the key is written to disk).
      const cli = startCli(['--port', '0', '--data-dir', dir]);
      cli.send('/peers');
      cli.endInput();
      expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
      expect(cli.lines).toContain('active (0):');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** stderr is one line, matching `problem`, with no stack trace. */
function expectOneLine(stderr: string, problem: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^p2pchat: /);
  expect(lines[0]).toMatch(problem);
}
