import { expect } from 'chai';
import { GroupCommit } from '../../api/group-commit';

describe('GroupCommit', () => {
  it('should write concurrent items together and answer each with its own result', async () => {
    const writes: number[][] = [];
    const commit = new GroupCommit(async (items: number[]) => {
      writes.push(items);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((n) => n * 10);
    });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => commit.submit(i)));
    expect(results).to.deep.equal(Array.from({ length: 20 }, (_, i) => i * 10));
    // The first item goes at once; the rest gather while it is written.
    expect(writes).to.deep.equal([[0], Array.from({ length: 19 }, (_, i) => i + 1)]);
  });

  it('should never put more than the limit in one write', async () => {
    const sizes: number[] = [];
    const commit = new GroupCommit(async (items: number[]) => {
      sizes.push(items.length);
      return items;
    }, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => commit.submit(i)));
    expect(Math.max(...sizes)).to.be.at.most(4);
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(10);
  });

  it('should fail only the item a failed write cannot take, writing the others again on their own', async () => {
    const commit = new GroupCommit(async (items: number[]) => {
      if (items.includes(3)) throw new Error('3 is refused');
      return items;
    });
    const first = commit.submit(0);
    const rest = [1, 2, 3, 4].map((n) => commit.submit(n).then((v) => ({ v }), (err: Error) => ({ err: err.message })));
    expect(await first).to.equal(0);
    expect(await Promise.all(rest)).to.deep.equal([{ v: 1 }, { v: 2 }, { err: '3 is refused' }, { v: 4 }]);
  });

  it('should start again after a failure', async () => {
    let fail = true;
    const commit = new GroupCommit(async (items: number[]) => {
      if (fail) throw new Error('down');
      return items;
    });
    await commit.submit(1).catch(() => undefined);
    fail = false;
    expect(await commit.submit(2)).to.equal(2);
  });
});
