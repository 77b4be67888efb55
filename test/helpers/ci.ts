/**
 * Whether the tests run in CI, where a test that cannot run must fail rather than skip. CI
 * services set `CI` to `true`, some to `1` or `True`: any value but empty, `0` or `false` counts.
 */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return !['', '0', 'false'].includes((env.CI ?? '').trim().toLowerCase());
}
