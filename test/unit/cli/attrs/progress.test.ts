import { expect } from 'chai';
import { progressBar } from '../../../../src/cli/attrs/progress.js';

describe('progressBar', () => {
  it('fills in proportion to what is done, and counts', () => {
    expect(progressBar(0, 4, 8)).to.equal('[········] 0/4');
    expect(progressBar(1, 4, 8)).to.equal('[##······] 1/4');
    expect(progressBar(4, 4, 8)).to.equal('[########] 4/4');
  });

  it('stays within its width past the total, and is full when there is nothing to do', () => {
    expect(progressBar(5, 4, 8)).to.equal('[########] 5/4');
    expect(progressBar(0, 0, 4)).to.equal('[####] 0/0');
  });
});
