/**
 * report.html as a reader sees it: a real lab report opened from disk in a real headless
 * Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no browser is ever
 * downloaded). The overlay draws one visible mark per node, the comparison table has a row per
 * run x phase, the histograms have bars, and the page asks the network for nothing.
 *
 * Without /usr/bin/chromium the suite is skipped on a workstation and fails in CI (CI set),
 * where .ci/run installs it.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseLabFlags, runLab } from '../lab/cli.js';
import { writeReportFiles, type ReportInput } from '../lab/report.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const isCi = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

/** No sandbox (CI runs as root), and none of the background traffic a fresh profile starts. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.runIf(!hasChromium && isCi)('report.html in Chromium (CI)', () => {
  it(`needs ${CHROMIUM}`, () => {
    throw new Error(`${CHROMIUM} is missing: .ci/run installs it with 'apt-get install -y chromium'`);
  });
});

describe.runIf(hasChromium)('report.html in Chromium', () => {
  let dir = '';
  let report: ReportInput;
  let browser: Browser | undefined;
  let page: Page;
  let pageUrl = '';
  const requests: string[] = [];
  const pageErrors: string[] = [];
  /** A failed test keeps the temp dir, screenshot included, for a look. */
  let keepDir = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pchat-lab-html-'));
    // Two runs, so the comparison table has rows of both; the kill leaves dead nodes to draw.
    const flags = parseLabFlags([
      ...['--transport', 'memory', '--clock', 'sim', '--nodes', '40', '--kill', '0.3'],
      ...['--router', 'flood,plumtree', '--broadcasts', '3', '--direct', '3', '--random-seed', '5'],
    ]);
    if (flags === 'help') throw new Error('unexpected help');
    report = await runLab(flags, () => undefined);
    const written = await writeReportFiles(dir, report);
    pageUrl = pathToFileURL(written.html).href;

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(pageUrl, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir && !keepDir) await rm(dir, { recursive: true, force: true });
  });

  const keepOnFailure = (): void => onTestFailed(() => void (keepDir = true));

  it('draws one visible, non-empty mark per node in each run’s overlay', async () => {
    keepOnFailure();
    const overlays = await page.$$eval('svg.overlay', (svgs) =>
      svgs.map((svg) => {
        const frame = svg.getBoundingClientRect();
        const marks = [...svg.querySelectorAll('.node')].map((mark) => {
          const box = mark.getBoundingClientRect();
          const isInside =
            box.left >= frame.left - 1 &&
            box.right <= frame.right + 1 &&
            box.top >= frame.top - 1 &&
            box.bottom <= frame.bottom + 1;
          return {
            id: mark.getAttribute('data-id'),
            isDead: mark.classList.contains('dead'),
            isShown: mark.checkVisibility({ opacityProperty: true, visibilityProperty: true }),
            hasArea: box.width > 0 && box.height > 0,
            isInside,
          };
        });
        return { width: frame.width, height: frame.height, marks };
      }),
    );
    expect(overlays).toHaveLength(report.runs.length);
    report.runs.forEach((run, i) => {
      const overlay = overlays[i];
      expect(overlay?.width).toBeGreaterThan(0);
      expect(overlay?.height).toBeGreaterThan(0);
      const ids = run.snapshot?.nodes.map((n) => n.id).sort();
      expect(overlay?.marks.map((m) => m.id).sort()).toEqual(ids);
      expect(overlay?.marks.filter((m) => m.isDead)).toHaveLength(
        run.snapshot?.nodes.filter((n) => !n.alive).length ?? -1,
      );
      expect(overlay?.marks.filter((m) => !m.isShown || !m.hasArea || !m.isInside)).toEqual([]);
    });
    expect(overlays[0]?.marks.filter((m) => m.isDead).length).toBeGreaterThan(0);
  });

  it('has one comparison row per run x phase, in report order', async () => {
    keepOnFailure();
    const rows = await page.$$eval('#comparison tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const expected = report.runs.flatMap((run) =>
      run.phases.map((phase) => [run.membership, run.router, run.transport, String(run.nodes), phase.name]),
    );
    expect(expected).toHaveLength(2 * 4);
    expect(rows.map((cells) => cells.slice(0, 5))).toEqual(expected);
    const visible = await page.locator('#comparison').isVisible();
    expect(visible).toBe(true);
  });

  it('renders an in-degree and a hops histogram per phase, with bars', async () => {
    keepOnFailure();
    const charts = await page.$$eval('svg.histogram', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        const bars = [...svg.querySelectorAll('rect.bar')].map((bar) => bar.getBoundingClientRect().height);
        return {
          title: svg.querySelector('text')?.textContent ?? '',
          hasArea: box.width > 0 && box.height > 0,
          tallest: Math.max(0, ...bars),
        };
      }),
    );
    const phases = report.runs.flatMap((run) => run.phases.map((phase) => phase.name));
    expect(charts.map((c) => c.title.replace(/ \(max \d+\)$/, ''))).toEqual(
      phases.flatMap((name) => [`${name}: in-degree`, `${name}: hops`]),
    );
    // Every phase delivered broadcasts and has edges, so every chart has a bar to see.
    expect(charts.filter((c) => !c.hasArea || c.tallest <= 0)).toEqual([]);
  });

  it('loads nothing but itself and raises no error', async () => {
    keepOnFailure();
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
    expect(requests).toEqual([pageUrl]);
    expect(pageErrors).toEqual([]);
  });
});
