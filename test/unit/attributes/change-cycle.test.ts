import { expect } from 'chai';
import { MAX_ATTEMPTS, KeyedQueue, untilWritten } from '../../../src/attributes/change-cycle.js';
import { ConcurrentChangeError, NotFoundError } from '../../../src/errors.js';
import { rejected } from '../helpers.js';

describe('the change cycle', () => {
  describe('untilWritten', () => {
    it('tries again on a concurrent change, telling the cycle its attempt, until the write succeeds', async () => {
      const seen: number[] = [];
      const result = await untilWritten(async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new ConcurrentChangeError();
        return 'written';
      });
      expect(result).to.equal('written');
      expect(seen).to.deep.equal([1, 2, 3]);
    });

    it('gives up after the last attempt with the conflict', async () => {
      let attempts = 0;
      await rejected(
        untilWritten(async () => {
          attempts++;
          throw new ConcurrentChangeError();
        }),
        ConcurrentChangeError,
      );
      expect(attempts).to.equal(MAX_ATTEMPTS);
    });

    it('ends at once on any other error', async () => {
      let attempts = 0;
      await rejected(
        untilWritten(async () => {
          attempts++;
          throw new NotFoundError('definition');
        }),
        NotFoundError,
      );
      expect(attempts).to.equal(1);
    });
  });

  describe('KeyedQueue', () => {
    it('runs the work of one key one at a time, in arrival order, and other keys alongside', async () => {
      const turns = new KeyedQueue();
      const events: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((done) => (release = done));
      const first = turns.run('a', async () => {
        events.push('a1 start');
        await gate;
        events.push('a1 end');
      });
      const second = turns.run('a', async () => {
        events.push('a2');
      });
      await turns.run('b', async () => {
        events.push('b');
      });
      expect(events).to.deep.equal(['a1 start', 'b']);
      release();
      await Promise.all([first, second]);
      expect(events).to.deep.equal(['a1 start', 'b', 'a1 end', 'a2']);
    });

    it('goes on with the next piece of work when one fails', async () => {
      const turns = new KeyedQueue();
      const failed = turns.run('a', async () => {
        throw new Error('boom');
      });
      const next = turns.run('a', async () => 'next');
      await rejected(failed, Error);
      expect(await next).to.equal('next');
    });
  });
});
