import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

describe('the repository stands alone', () => {
  // A user's clone has nothing beside it: a path that leaves the repository works only on a machine
  // that happens to have the same folders.
  it('resolves every file path the sources and tests name inside the repository', () => {
    const outside: string[] = [];
    for (const file of ['src', 'test', 'bench', 'scripts'].flatMap(sources)) {
      const text = readFileSync(file, 'utf8');
      for (const [, path] of text.matchAll(/new URL\(\s*['`]([^'`$]+)['`]\s*,\s*import\.meta\.url/g)) {
        const target = resolve(dirname(file), path!);
        if (relative(ROOT, target).startsWith('..')) outside.push(`${relative(ROOT, file)}: ${path}`);
      }
    }
    expect(outside).to.deep.equal([]);
  });
});
