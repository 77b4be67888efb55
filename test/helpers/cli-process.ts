/**
 * The built CLI (`node dist/cli/main.js ...`) as a real child process: its stdout lines and
 * stderr are collected, a test waits for a line matching a predicate (event-driven, with a
 * deadline) and writes stdin lines. Every process started here is killed by `killAll()`, which
 * tests register in `afterEach`. The build itself is `test/global-setup.ts`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  isJsonEvent,
  parseJsonEvent,
  type JsonEvent,
  type JsonEventName,
  type JsonEventOf,
} from '../../events.js';

export type { JsonEvent, JsonEventOf } from '../../events.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Stream = 'stdout' | 'stderr';

interface Waiter {
  stream: Stream;
  isMatch: (line: string) => boolean;
  resolve: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const running = new Set<CliProcess>();

export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Every complete stdout line so far, without its newline. */
  readonly lines: string[] = [];
  /** Every complete stderr line so far. */
  readonly stderrLines: string[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  readonly #partial: Record<Stream, string> = { stdout: '', stderr: '' };
  readonly #waiters = new Set<Waiter>();

  /** `env`: the child's whole environment (default: this process's). */
  constructor(
    readonly args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.#onData('stdout', chunk));
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#onData('stderr', chunk);
    });
    // A write after the child exited must fail the wait that needed it, not the test run.
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (this.#partial[stream]) this.#onLine(stream, this.#partial[stream]);
          this.#partial[stream] = '';
        }
        this.exit = { code, signal };
        running.delete(this);
        resolve(this.exit);
      });
    });
  }

  /** stdout lines parsed as JSON, for `--json` processes. */
  get events(): JsonEvent[] {
    return this.lines.map((line) => JSON.parse(line) as JsonEvent);
  }

  /** Resolves with the first stdout line, past or future, that matches; rejects at the deadline or exit. */
  waitForLine(
    isMatch: (line: string) => boolean,
    what: string,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<string> {
    return this.#waitFor('stdout', isMatch, what, timeoutMs);
  }

  /** Like `waitForLine`, on stderr (the logs). */
  waitForStderr(
    isMatch: (line: string) => boolean,
    what: string,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<string> {
    return this.#waitFor('stderr', isMatch, what, timeoutMs);
  }

  #waitFor(
    stream: Stream,
    isMatch: (line: string) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<string> {
    const seen = (stream === 'stdout' ? this.lines : this.stderrLines).find(isMatch);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`${this.#label()}: ${why} waiting for ${what}\n${this.#transcript()}`));
      };
      const waiter: Waiter = {
        stream,
        isMatch,
        resolve: (line) => {
          this.#waiters.delete(waiter);
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.#waiters.add(waiter);
      void this.exited.then((exit) => {
        if (this.#waiters.has(waiter)) fail(`exited (${exit.code ?? exit.signal})`);
      });
    });
  }

  /** Waits for a `--json` event of this name whose fields satisfy `isMatch`. */
  async waitForEvent<Name extends JsonEventName>(
    event: Name,
    isMatch: (e: JsonEventOf<Name>) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<JsonEventOf<Name>> {
    const line = await this.waitForLine(
      (text) => {
        const parsed = parseJsonEvent(text);
        return isJsonEvent(parsed, event) && isMatch(parsed);
      },
      `event '${event}'`,
      timeoutMs,
    );
    return JSON.parse(line) as JsonEventOf<Name>;
  }

  /** Waits for the process to exit, killing it with SIGKILL at the deadline. */
  async waitForExit(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`${this.#label()}: did not exit within ${timeoutMs} ms\n${this.#transcript()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes one line to stdin. */
  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Closes stdin: end of input. */
  endInput(): void {
    this.child.stdin.end();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }

  #onData(stream: Stream, chunk: string): void {
    const parts = (this.#partial[stream] + chunk).split('\n');
    this.#partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.#onLine(stream, line);
  }

  #onLine(stream: Stream, line: string): void {
    (stream === 'stdout' ? this.lines : this.stderrLines).push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.stream === stream && waiter.isMatch(line)) waiter.resolve(line);
    }
  }

  #label(): string {
    return `p2pchat ${this.args.join(' ')}`;
  }

  #transcript(): string {
    return `--- stdout ---\n${this.lines.join('\n')}\n--- stderr ---\n${this.stderr}`;
  }
}

/** Starts `node dist/cli/main.js ...args`; killed by `killAll()`. */
export function startCli(args: string[], env?: NodeJS.ProcessEnv): CliProcess {
  return new CliProcess(args, env);
}

/** Runs the CLI to its exit with stdin closed, for flags that never start a node. */
export async function runCli(
  args: string[],
  timeoutMs = DEFAULT_TIMEOUT_MS,
  env?: NodeJS.ProcessEnv,
): Promise<CliProcess & { exit: Exit }> {
  const cli = startCli(args, env);
  cli.endInput();
  await cli.waitForExit(timeoutMs);
  return cli as CliProcess & { exit: Exit };
}

/** SIGKILLs every process still running and waits for them to be gone. */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const cli of left) cli.kill('SIGKILL');
  await Promise.all(left.map((cli) => cli.exited));
}
