/**
 * Tests that cannot run here skip outside CI and fail in CI (netns, lab-html's browser): which
 * environments count as CI decides whether a missing dependency is noticed at all.
 */
import { describe, expect, it } from 'vitest';
import { isCi } from './helpers/ci.js';

describe('isCi', () => {
  it.each(['true', 'True', '1', 'yes', ' true '])('CI=%j is CI: a test that cannot run fails', (value) => {
    expect(isCi({ CI: value })).toBe(true);
  });

  it.each(['', '0', 'false', 'FALSE'])('CI=%j is not CI: a test that cannot run is skipped', (value) => {
    expect(isCi({ CI: value })).toBe(false);
  });

  it('no CI variable at all is not CI', () => {
    expect(isCi({})).toBe(false);
  });
});
