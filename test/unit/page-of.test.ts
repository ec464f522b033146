import t from 'tap';
import { pageOf } from '../../src/sync/record-search.js';

// The failures list's paging, shared by both ledgers: skip, keep, and stop reading once the page is full.

async function* counting(n: number, read: { count: number; closed: boolean }): AsyncGenerator<number> {
  try {
    for (let i = 0; i < n; i++) {
      read.count += 1;
      yield i;
    }
  } finally {
    read.closed = true;
  }
}

t.test('offset skips, limit keeps, more says whether one is left', async (t) => {
  const read = { count: 0, closed: false };
  t.same(await pageOf(counting(10, read), 3, 4), { items: [3, 4, 5, 6], more: true });
  t.equal(read.count, 8, 'read one past the page to know there is more, and no further');
  t.ok(read.closed, 'the walk is closed (a database cursor or a Redis scan ends there)');
  t.same(await pageOf(counting(7, { count: 0, closed: false }), 3, 4), { items: [3, 4, 5, 6], more: false }, 'exactly the rest: no more');
  t.same(await pageOf(counting(2, { count: 0, closed: false }), 3, 4), { items: [], more: false }, 'an offset past the end');
  t.same(await pageOf(counting(5, { count: 0, closed: false }), 0, 0), { items: [], more: true }, 'limit 0 still says whether any is there');
});
