/**
 * Builds dist/ once before the suite: the CLI tests run `node dist/cli/main.js` as real child
 * processes, so they must never test a stale build. A failed build fails the run with its output.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8' });
  if (build.error) throw new Error(`cannot run 'npm run build': ${build.error.message}`);
  if (build.status !== 0) {
    throw new Error(
      `'npm run build' failed (exit ${build.status ?? build.signal}):\n${build.stdout}${build.stderr}`,
    );
  }
}
