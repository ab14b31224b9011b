import t from 'tap';
import { LOAD_MARGIN_BYTES, memoryShortfall } from '../../src/service/registry/memory-headroom.js';

t.test('a load needs the file plus a margin within the room the limit leaves', async (t) => {
  const MiB = 1024 ** 2;
  t.equal(memoryShortfall('x.ann', 100 * MiB, { limit: null, rss: 900 * MiB }), null, 'no limit, no check');
  t.equal(memoryShortfall('x.ann', 100 * MiB, { limit: 1024 * MiB, rss: 200 * MiB }), null, 'fits');
  t.equal(memoryShortfall('x.ann', 100 * MiB, { limit: 200 * MiB + LOAD_MARGIN_BYTES + 100 * MiB, rss: 200 * MiB }), null, 'fits exactly');
  t.equal(
    memoryShortfall('x.ann', 100 * MiB, { limit: 1024 * MiB, rss: 900 * MiB }),
    'x.ann needs 100.0 MiB and the memory limit (1.00 GiB) leaves 124.0 MiB with 900.0 MiB in use: not loaded, since that would get the process killed; tried again later (a swap holds the old and the new version at once: raise the limit, or remove an index)',
  );
});
