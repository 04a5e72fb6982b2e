// The README's library example, as the README shows it: the first ```js block of its
// "## Library" section.
import { readFileSync } from 'node:fs';

export const REPO_ROOT = new URL('../../', import.meta.url);

export function readmeLibraryExample(): string {
  const readme = readFileSync(new URL('README.md', REPO_ROOT), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Library\n'));
  if (!section) throw new Error('README.md has no "## Library" section');
  const block = /^```js\n([\s\S]*?)^```$/m.exec(section);
  if (!block) throw new Error('the "## Library" section of README.md has no ```js block');
  return block[1]!;
}

/** What a run of the example must print: the story continuation and two chat replies. */
export function checkExampleOutput(stdout: string): string | undefined {
  const lines = stdout.split('\n');
  if (!/[a-z]{3,}/i.test(stdout)) return `no word in the output ${JSON.stringify(stdout)}`;
  if (lines.length < 3) return `expected three printed results, got ${JSON.stringify(stdout)}`;
  return undefined;
}
