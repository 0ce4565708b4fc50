import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createLog, type LogOptions, type ServiceLog } from '../../src/log.js';
import { eventually } from '../eventually.js';

describe('createLog', () => {
  let dir: string;
  let file: string;
  const opened: ServiceLog[] = [];
  const logTo = (options: Omit<LogOptions, 'fd' | 'level'>) => {
    // The log owns the descriptor from here on: closing the log closes it.
    const made = createLog({ level: 'info', fd: openSync(file, 'a'), ...options });
    opened.push(made);
    return made;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'log-'));
    file = join(dir, 'out.log');
  });
  afterEach(async () => {
    for (const made of opened.splice(0)) made.close();
    await rm(dir, { recursive: true, force: true });
  });
  const lines = async () => (await readFile(file, 'utf8')).split('\n').filter(Boolean);

  it('holds lines back until a batch is full, then writes them off the caller’s path', async () => {
    const { log } = logTo({ batchBytes: 2000, flushMs: 60_000 });
    for (let i = 0; i < 5; i++) log.info({ i }, 'small');
    expect(await lines()).to.deep.equal([]);
    for (let i = 5; i < 40; i++) log.info({ i }, 'small');
    const written = await eventually('a batch written', lines, (l) => l.length > 0);
    expect(JSON.parse(written[0]!)).to.include({ i: 0, msg: 'small' });
  });

  it('writes a quiet log within the flush interval', async () => {
    const { log } = logTo({ flushMs: 50 });
    log.info('one line');
    const written = await eventually('the line written', lines, (l) => l.length === 1);
    expect(JSON.parse(written[0]!)).to.include({ msg: 'one line' });
  });

  it('drops and counts lines beyond the buffer bound, and writes the rest when flushed', async () => {
    const { log, dropped, flush } = logTo({
      batchBytes: 8000,
      flushMs: 60_000,
      maxBufferedBytes: 4096,
    });
    for (let i = 0; i < 200; i++) log.info({ i }, 'x'.repeat(50));
    expect(dropped()).to.be.greaterThan(100);
    flush();
    const kept = await lines();
    expect(kept.length + dropped()).to.equal(200);
    expect(kept.map((l) => (JSON.parse(l) as { i: number }).i)).to.deep.equal([...kept.keys()]);
  });
});
