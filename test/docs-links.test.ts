/**
 * The repository documents itself: every relative link of its markdown files resolves to a file
 * inside it (and an `#anchor` to a heading of the markdown file it names), nothing points at a
 * folder beside the clone, and every "docs/protocol.md section N" cited in the tree names a
 * section that docs/protocol.md has. Files are those git tracks, plus new ones it does not ignore.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Files of the repository: tracked, or new and not ignored; never node_modules or dist. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  const files = out.split('\0').filter((file) => file.length > 0);
  return [...new Set(files)].filter(
    (file) =>
      !file.startsWith('node_modules/') &&
      !file.startsWith('dist/') &&
      existsSync(join(root, file)) &&
      statSync(join(root, file)).isFile(),
  );
}

const read = (file: string): string => readFileSync(join(root, file), 'utf8');

/** The text outside fenced code blocks, with inline code spans blanked (same length, no brackets). */
function proseOf(markdown: string): string {
  let isInFence = false;
  const lines = markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      isInFence = !isInFence;
      return '';
    }
    return isInFence ? '' : line;
  });
  return lines.join('\n').replace(/(`+)[^`]*?\1/g, (span) => 'x'.repeat(span.length));
}

/** Link targets: inline links and images `[text](target)`, and definitions `[label]: target`. */
function linkTargets(markdown: string): string[] {
  const prose = proseOf(markdown);
  const inline = [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)];
  const definitions = [...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)];
  return [...inline, ...definitions].map((match) => match[1] as string);
}

/** GitHub's anchors for the headings of a markdown file. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let isInFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) isInFence = !isInFence;
    const heading = isInFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = (heading[1] as string).replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

const isExternal = (target: string): boolean =>
  /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** Section numbers of docs/protocol.md: "1" for "## 1. Transport...", "3.6" for "### 3.6 Sealed...". */
function protocolSections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const match of markdown.matchAll(/^#{2,3}\s+(\d+(?:\.\d+)?)\.?\s+(.+)$/gm)) {
    sections.set(match[1] as string, (match[2] as string).trim());
  }
  return sections;
}

describe('documentation links', () => {
  const files = repositoryFiles();
  const markdownFiles = files.filter((file) => extname(file) === '.md');

  it('lists the files of the repository', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/protocol.md');
    expect(files).toContain('proto/overlay.proto');
  });

  it('resolves every relative markdown link to a file inside the repository, and its anchor to a heading', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of markdownFiles) {
      for (const target of linkTargets(read(file))) {
        if (isExternal(target)) continue;
        checked++;
        const [pathPart = '', anchor] = target.split('#', 2);
        const resolved =
          pathPart === '' ? join(root, file) : resolve(root, dirname(file), decodeURI(pathPart));
        const inside = relative(root, resolved);
        if (inside.startsWith('..') || inside.split(sep).includes('node_modules')) {
          problems.push(`${file}: '${target}' points outside the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          problems.push(`${file}: '${target}' does not exist`);
          continue;
        }
        if (anchor && extname(resolved) === '.md' && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
          problems.push(`${file}: '${target}' names no heading of ${inside}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('mentions no folder beside the repository', () => {
    const outside = ['..', 'shared'].join('/');
    const offenders = files.filter((file) => read(file).includes(outside));
    expect(offenders).toEqual([]);
  });

  it('cites the project’s own documents, never a contract or style guide it does not carry', () => {
    // An upper-case PROTOCOL.md or STYLE.md names a file outside the repository.
    const foreign = /\b(PROTOCOL|STYLE)\.md\b/;
    const offenders = files.filter((file) => file !== 'test/docs-links.test.ts' && foreign.test(read(file)));
    expect(offenders).toEqual([]);
  });

  it('keeps the numbered sections of docs/protocol.md that the code cites', () => {
    const sections = protocolSections(read('docs/protocol.md'));
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => sections.get(String(n)))).toEqual([
      'Transport and framing',
      'Identity',
      'Handshake and sealed links',
      'Membership',
      'Routed messages',
      'Leaving and errors',
      'The envelope',
    ]);
    const problems: string[] = [];
    const cited = /docs\/protocol\.md,?\s+sections?\s+(\d+(?:\.\d+)?)(?:\s*(?:-|to|and)\s*(\d+(?:\.\d+)?))?/g;
    for (const file of files.filter((f) => ['.ts', '.js', '.md', '.proto', '.json'].includes(extname(f)))) {
      for (const match of read(file).matchAll(cited)) {
        for (const section of [match[1], match[2]]) {
          if (section !== undefined && !sections.has(section)) {
            problems.push(`${file}: '${match[0]}' names no section of docs/protocol.md`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
