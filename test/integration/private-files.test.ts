import { expect } from 'chai';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { privateJsonFile } from '../../src/controller/infrastructure/store/private-file.js';
import { narrowModes } from '../../src/controller/infrastructure/store/private-modes.js';
import { Fixtures } from '../helpers/fixtures.js';

const modeOf = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);

describe('private store files (real files)', () => {
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  it('writes a lowdb file 0600, replacing a 0644 one; writes meanwhile end with the newest data', async () => {
    const dir = await fx.tempDir();
    const path = join(dir, 'users.json');
    await writeFile(path, '{}');
    await chmod(path, 0o644);
    const file = privateJsonFile<{ n: number }>(path);
    await Promise.all(Array.from({ length: 20 }, (_, n) => file.write({ n })));
    expect(await file.read()).to.deep.equal({ n: 19 });
    expect(await modeOf(path)).to.equal('600');
    expect(JSON.parse(await readFile(path, 'utf8'))).to.deep.equal({ n: 19 });
  });

  it('narrows every dir to 0700 and file to 0600 under a root, leaves links alone, and says what it changed', async () => {
    const root = await fx.tempDir();
    const outside = join(await fx.tempDir(), 'outside');
    await writeFile(outside, 'not ours');
    await chmod(outside, 0o644);
    await mkdir(join(root, 'jobs'), { mode: 0o755 });
    await writeFile(join(root, 'jobs', 'j1.json'), '{}', { mode: 0o644 });
    await writeFile(join(root, 'secret.key'), 'k', { mode: 0o600 });
    await symlink(outside, join(root, 'link'));
    await chmod(root, 0o755);
    expect(await narrowModes(root)).to.deep.equal(['. 755→700', 'jobs 755→700', 'jobs/j1.json 644→600']);
    expect(await modeOf(join(root, 'jobs', 'j1.json'))).to.equal('600');
    expect(await modeOf(outside)).to.equal('644');
    expect(await narrowModes(root)).to.deep.equal([]);
  });
});
