/**
 * The Markdown is part of the product: every relative link leads somewhere (a file, and a
 * heading when it names one), and every repository path it cites in code spans exists (a
 * test file named alone, somewhere under `test/`). A
 * moved section or a renamed test fails here, not in a reader's hands.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, globSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Tracked and new Markdown files, as git sees them (nothing it ignores). */
const MARKDOWN = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => file && existsSync(file));

/** Where a cited path must start to be checked: the repository's own folders. */
const CITED_ROOTS = /^(?:test|lib|lambdas|local|bench|examples|docs|bin|\.ci)\//;

/** The text outside fenced code blocks: code there is an example, not a reference. */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = (match[1] ?? '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  const text = prose(readFileSync(file, 'utf8')).replace(/`[^`\n]*`/g, '');
  for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1] ?? '';
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
    const [relative = '', anchor] = target.split('#');
    const resolved = relative ? path.join(path.dirname(file), decodeURIComponent(relative)) : file;
    if (!existsSync(resolved)) broken.push(`${target}: no ${resolved}`);
    else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor))
      broken.push(`${target}: no heading #${anchor} in ${resolved}`);
  }
  return broken;
}

function missingCitedPaths(file: string): string[] {
  const missing: string[] = [];
  for (const match of readFileSync(file, 'utf8').matchAll(/`([^`\s]+)`/g)) {
    const cited = (match[1] ?? '').replace(/[.,:;]+$/, '');
    // A test file named alone (`prepare.test.ts`) is somewhere under test/.
    const pattern = /^[\w-]+\.test\.ts$/.test(cited) ? `test/**/${cited}` : cited;
    if (!CITED_ROOTS.test(pattern)) continue;
    const found = pattern.includes('*') ? globSync(pattern).length > 0 : existsSync(pattern);
    if (!found) missing.push(cited);
  }
  return missing;
}

describe('the Markdown', () => {
  it('is found (the README, RELIABILITY.md and docs/)', () => {
    expect(MARKDOWN).toEqual(
      expect.arrayContaining(['README.md', 'RELIABILITY.md', 'docs/local-runtime.md']),
    );
  });

  it.each(MARKDOWN)('%s: every relative link leads to a file, and to a heading when it names one', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it.each(MARKDOWN)('%s: every repository path it cites exists', (file) => {
    expect(missingCitedPaths(file)).toEqual([]);
  });
});
