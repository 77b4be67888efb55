/**
 * The network key of a private mesh, kept off command lines: `p2pchat keygen` makes a random
 * one in a 0600 file, nodes read it with --network-key-file or P2PCHAT_NETWORK_KEY, a node
 * without it is refused, the deprecated --network-key still interoperates (protocol v1), and the
 * key shows up in no argv, no log and no lab report. Real `dist/cli/main.js` processes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, runCli, startCli, type CliProcess, type JsonEventOf } from './helpers/cli-process.js';
import { resolveNetworkKey } from '../crypto/network-key.js';
import { childEnv, configFlags } from '../lab/process-cluster.js';

afterEach(() => killAll());

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pchat-netkey-'));
  dirs.push(dir);
  return dir;
}

const hasProc = existsSync('/proc/self/cmdline');

/** The environment of this test without any network key, plus `extra`. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('P2PCHAT_NETWORK_KEY' in extra)) delete env.P2PCHAT_NETWORK_KEY;
  return env;
}

/** `p2pchat keygen --out FILE`; the file and the key in it. */
async function keygen(dir: string, name = 'network.key'): Promise<{ path: string; key: string }> {
  const path = join(dir, name);
  const cli = await runCli(['keygen', '--out', path], undefined, envWith());
  expect(cli.exit).toEqual({ code: 0, signal: null });
  return { path, key: (await readFile(path, 'utf8')).trim() };
}

/** A `--json` node with debug logs, started and ready. */
async function startNode(
  args: string[],
  env = envWith(),
): Promise<{ cli: CliProcess; self: JsonEventOf<'ready'> }> {
  const cli = startCli(['--json', '--port', '0', '--log-level', 'debug', ...args], env);
  return { cli, self: await cli.waitForEvent('ready') };
}

const FAST_RETRY = ['--retry-base-backoff-ms', '50', '--retry-max-backoff-ms', '300'];
const addressOf = (self: JsonEventOf<'ready'>): string => `127.0.0.1:${String(self.port)}`;

/** A process's command line, NULs as spaces. */
function cmdlineOf(pid: number | undefined): string {
  return readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8').replaceAll('\0', ' ');
}

/** The pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return children;
}

describe('where the key comes from', () => {
  const usage = (message: string): Error => new Error(`usage: ${message}`);
  const KEY = 'a'.repeat(64);

  it('the file first, then the flag, then P2PCHAT_NETWORK_KEY; none is an open mesh', async () => {
    const { path, key } = await keygen(await tempDir());
    const env = { P2PCHAT_NETWORK_KEY: KEY };
    expect(resolveNetworkKey({ file: path, flag: undefined, env }, usage)).toEqual({ key, warnings: [] });
    expect(resolveNetworkKey({ file: undefined, flag: undefined, env }, usage)).toEqual({
      key: KEY,
      warnings: [],
    });
    expect(resolveNetworkKey({ file: undefined, flag: undefined, env: {} }, usage)).toEqual({
      key: undefined,
      warnings: [],
    });
    const flagged = resolveNetworkKey({ file: undefined, flag: `${KEY}b`, env }, usage);
    expect(flagged.key).toBe(`${KEY}b`);
    expect(flagged.warnings).toEqual([expect.stringMatching(/^--network-key is deprecated: .* ps/)]);
    expect(() => resolveNetworkKey({ file: path, flag: KEY, env }, usage)).toThrow(/usage: .*not both/);
    expect(() => resolveNetworkKey({ file: undefined, flag: '', env }, usage)).toThrow(/usage: .*empty/);
  });

  it('warns below 16 characters, from any source, and never quotes the key', () => {
    const short = resolveNetworkKey(
      { file: undefined, flag: undefined, env: { P2PCHAT_NETWORK_KEY: 'x'.repeat(15) } },
      usage,
    );
    expect(short.warnings).toEqual([expect.stringMatching(/only 15 characters: .*offline/)]);
    expect(short.warnings.join()).not.toContain('x'.repeat(15));
    const enough = resolveNetworkKey(
      { file: undefined, flag: undefined, env: { P2PCHAT_NETWORK_KEY: 'x'.repeat(16) } },
      usage,
    );
    expect(enough.warnings).toEqual([]);
  });

  it('the lab gives a child process every setting as a flag but the key, which goes in its environment', () => {
    const config = { activeSize: 4, membership: 'cyclon', networkKey: KEY };
    expect(configFlags(config)).toEqual(['--active-size', '4', '--membership', 'cyclon']);
    expect(childEnv(config, { PATH: '/bin' })).toEqual({ PATH: '/bin', P2PCHAT_NETWORK_KEY: KEY });
    // An open mesh's children get no key, even one the lab's own environment had.
    expect(childEnv({ activeSize: 4 }, { PATH: '/bin', P2PCHAT_NETWORK_KEY: KEY })).toEqual({ PATH: '/bin' });
  });
});

describe('p2pchat keygen', () => {
  it('writes 32 random bytes as hex to a new 0600 file, and never replaces one', async () => {
    const dir = await tempDir();
    const { path, key } = await keygen(dir);
    expect(await readFile(path, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);

    const again = await runCli(['keygen', '--out', path], undefined, envWith());
    expect(again.exit.code).toBe(1);
    expect(again.stderr).toMatch(/exists; not replaced/);
    expect((await readFile(path, 'utf8')).trim()).toBe(key);

    const printed = await runCli(['keygen'], undefined, envWith());
    expect(printed.exit).toEqual({ code: 0, signal: null });
    expect(printed.lines).toHaveLength(1);
    expect(printed.lines[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(printed.lines[0]).not.toBe(key);
  });
});

describe('--network-key-file', () => {
  it('nodes with the key file, or the key in the environment, or the old flag, meet; others are refused', async () => {
    const dir = await tempDir();
    const { path, key } = await keygen(dir);
    const alice = await startNode(['--name', 'alice', '--network-key-file', path]);
    const bob = await startNode([
      '--name',
      'bob',
      '--network-key-file',
      path,
      '--seed',
      addressOf(alice.self),
    ]);
    const dave = await startNode(
      ['--name', 'dave', '--seed', addressOf(alice.self)],
      envWith({ P2PCHAT_NETWORK_KEY: key }),
    );
    // A v1 node given the same 64 characters as its passphrase: the same mesh key.
    const eve = await startNode(['--name', 'eve', '--network-key', key, '--seed', addressOf(alice.self)]);
    for (const node of [bob, dave, eve]) {
      await node.cli.waitForEvent('peer-up', (e) => e.id === alice.self.id);
      await alice.cli.waitForEvent('peer-up', (e) => e.id === node.self.id);
    }
    const deprecated = await eve.cli.waitForStderr((line) => /deprecated/.test(line), 'the warning');
    expect(JSON.parse(deprecated)).toMatchObject({ level: 40, msg: expect.stringMatching(/ps/) });

    // No key, or another key: the handshake fails, and no peer ever comes up.
    const other = await keygen(dir, 'other.key');
    const carol = await startNode(['--name', 'carol', '--seed', addressOf(alice.self), ...FAST_RETRY]);
    const mallory = await startNode([
      '--name',
      'mallory',
      '--network-key-file',
      other.path,
      '--seed',
      addressOf(alice.self),
      ...FAST_RETRY,
    ]);
    for (const stranger of [carol, mallory]) {
      await stranger.cli.waitForStderr((line) => /"code":"AUTH"/.test(line), 'the refusal');
      await stranger.cli.waitForStderr((line) => /seed unreachable/.test(line), 'a retry');
      stranger.cli.send('/peers');
      expect(await stranger.cli.waitForEvent('peers')).toMatchObject({ active: [] });
      expect(stranger.cli.events.filter((e) => e.event === 'peer-up')).toEqual([]);
    }
    const strangers = new Set([carol.self.id, mallory.self.id]);
    expect(alice.cli.events.filter((e) => e.event === 'peer-up' && strangers.has(e.id))).toEqual([]);

    // The key is on no command line but eve's, and in no output or log line of anyone's.
    const keyed = [alice, bob, dave];
    if (hasProc) for (const { cli } of keyed) expect(cmdlineOf(cli.child.pid)).not.toContain(key);
    for (const { cli } of [...keyed, eve, carol, mallory]) {
      cli.kill('SIGTERM');
      await cli.waitForExit();
      expect(cli.stderr).not.toContain(key);
      expect(cli.lines.join('\n')).not.toContain(key);
    }
    // Debug logs were on: every link that opened was logged.
    expect(alice.cli.stderr).toMatch(/"level":20.*"msg":"link open"/);
  });

  it('warns about a short key, and refuses a key file others can read, or two keys', async () => {
    const dir = await tempDir();
    const short = await startNode([], envWith({ P2PCHAT_NETWORK_KEY: 'hunter2' }));
    const warning = await short.cli.waitForStderr((line) => /only 7 characters/.test(line), 'the warning');
    expect(JSON.parse(warning)).toMatchObject({
      level: 40,
      msg: expect.stringMatching(/guesses offline.*p2pchat keygen/),
    });
    expect(short.cli.stderr).not.toContain('hunter2');

    const { path } = await keygen(dir);
    const long = await startNode(['--network-key-file', path]);
    long.cli.kill('SIGTERM');
    await long.cli.waitForExit();
    expect(long.cli.stderr).not.toMatch(/"level":40/);

    if (process.platform !== 'win32') {
      await chmod(path, 0o640);
      const exposed = await runCli(
        ['--json', '--port', '0', '--network-key-file', path],
        undefined,
        envWith(),
      );
      expect(exposed.exit.code).toBe(1);
      expect(exposed.stderr.trimEnd()).toBe(
        `p2pchat: network key file ${path} is open to other users (mode 0640); run chmod 600 ${path}`,
      );
      await chmod(path, 0o600);
    }
    const missing = await runCli(['--network-key-file', join(dir, 'nope')], undefined, envWith());
    expect(missing.exit.code).toBe(1);
    expect(missing.stderr).toMatch(/^p2pchat: cannot read network key file .*nope/);

    const both = await runCli(['--network-key-file', path, '--network-key', 'x'], undefined, envWith());
    expect(both.exit.code).toBe(2);
    expect(both.stderr).toMatch(/^p2pchat: give --network-key-file or --network-key, not both\n/);
  });
});

describe('p2pchat lab with a network key', () => {
  it('gives the key to its child processes in their environment, and no report contains it', async () => {
    const dir = await tempDir();
    const { path, key } = await keygen(dir);
    const out = join(dir, 'report');
    const lab = startCli(
      [
        'lab',
        '--transport',
        'process',
        '--nodes',
        '3',
        '--network-key-file',
        path,
        '--kill',
        '0',
        '--broadcasts',
        '2',
        '--direct',
        '2',
        '--join-stagger-ms',
        '0',
        '--shuffle-ms',
        '200',
        '--converge-timeout-ms',
        '10000',
        '--delivery-timeout-ms',
        '5000',
        '--out',
        out,
      ],
      envWith(),
    );
    const labPid = lab.child.pid ?? 0;
    // Every child's command line and environment, read while the mesh runs.
    const children = new Map<number, { cmdline: string; environ: string }>();
    if (hasProc) {
      await vi.waitFor(
        () => {
          for (const pid of childrenOf(labPid)) {
            if (children.has(pid)) continue;
            try {
              const cmdline = cmdlineOf(pid);
              // Between fork and exec a child still shows the lab's own command line.
              if (!cmdline.includes('--json')) continue;
              const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
              children.set(pid, { cmdline, environ: environ.join('\n') });
            } catch {
              // Exited meanwhile.
            }
          }
          expect(children.size).toBeGreaterThanOrEqual(3);
        },
        { timeout: 30_000, interval: 50 },
      );
    }
    expect(await lab.waitForExit(120_000)).toEqual({ code: 0, signal: null });

    for (const { cmdline, environ } of children.values()) {
      expect(cmdline).toMatch(/main\.js --json/);
      expect(cmdline).not.toContain(key);
      expect(environ.split('\n')).toContain(`P2PCHAT_NETWORK_KEY=${key}`);
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      config: Record<string, unknown>;
      runs: Array<{
        phases: Array<{ name: string; direct: { receipted: number }; overlay: { edges: number } }>;
      }>;
    };
    expect(report.config).toMatchObject({ keyed: true, transport: 'process' });
    expect(report.config).not.toHaveProperty('networkKey');
    // The keyed children met each other.
    const steady = report.runs[0]?.phases.find((phase) => phase.name === 'steady');
    expect(steady?.overlay.edges).toBeGreaterThan(0);
    expect(steady?.direct.receipted).toBeGreaterThan(0);
    for (const file of ['report.json', 'report.md', 'report.html']) {
      expect(await readFile(join(out, file), 'utf8')).not.toContain(key);
    }
    expect(lab.stderr).not.toContain(key);
    expect(lab.lines.join('\n')).not.toContain(key);
  });
});
