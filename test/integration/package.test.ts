import { execFile } from 'node:child_process';
import { cp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { tempDir } from './harness.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Manifest {
  files?: string[];
  scripts: Record<string, string>;
  bin: Record<string, string>;
  exports: { '.': { types: string; default: string } };
}

/** The paths `npm pack` would put in the tarball of the package in `dir` (its prepack script not run). */
async function packed(dir: string): Promise<string[]> {
  const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir });
  const [report] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return (report?.files ?? []).map((f) => f.path);
}

/**
 * Builds the package as `npm pack` would (the build into a temporary directory, not the working tree),
 * keeps only what npm would pack, and uses it as an installed package: its entry and its command line.
 */
describe('the package as npm packs it', () => {
  let dir: string;
  let manifest: Manifest;

  before(async function () {
    this.timeout(60_000);
    dir = await tempDir('package');
    manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest;
    await writeFile(join(dir, 'package.json'), JSON.stringify(manifest));
    await exec(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        join(dir, 'dist'),
      ],
      { cwd: ROOT },
    );
    // What npm packs of the build, and of the rest of the project (a dist/ in the working tree is not ours).
    const built = (await readdir(join(dir, 'dist'), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)));
    const packedBuild = await packed(dir);
    expect(
      built.filter((f) => !packedBuild.includes(f)),
      'built files left out',
    ).to.deep.equal([]);
    for (const file of (await packed(ROOT)).filter((f) => !f.startsWith('dist/'))) {
      await cp(join(ROOT, file), join(dir, file));
    }
    // Installed next to its dependencies, as npm would.
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds on pack, not on install', () => {
    expect(manifest.scripts.prepack).to.equal('npm run build');
    expect(manifest.scripts).to.not.have.any.keys('prepare', 'prepublish', 'install', 'postinstall');
  });

  it('exports the typed client from its entry', async () => {
    const entry = (await import(pathToFileURL(join(dir, manifest.exports['.'].default)).href)) as Record<
      string,
      unknown
    >;
    expect(entry.AttributesClient).to.be.a('function');
    expect(entry.ApiError).to.be.a('function');
    const types = await readFile(join(dir, manifest.exports['.'].types), 'utf8');
    expect(types).to.contain("export * from './client/index.js'");
  });

  it('installs a jans-attrs command that prints its help', async () => {
    const bin = join(dir, manifest.bin['jans-attrs'] as string);
    expect(await readFile(bin, 'utf8')).to.match(/^#!\/usr\/bin\/env node\n/);
    const { stdout } = await exec(process.execPath, [bin, '--help'], { cwd: dir });
    expect(stdout).to.match(/^Usage: jans-attrs <command> \[options\]/);
    expect(stdout).to.contain('Commands:');
  });
});
