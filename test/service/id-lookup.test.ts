import t from 'tap';
import { IdLookup, idLookupTable } from '../../src/index-files/id-lookup.js';

t.test('every id finds its item; ids it does not hold find nothing', async (t) => {
  // Ids that differ in their last characters only, non-ASCII ones, an empty one: what hashes close.
  const ids = [...Array.from({ length: 5000 }, (_, i) => `sku-${i}`), 'ünïcødé', '商品-1', '🙂', ''];
  const table = idLookupTable(ids);
  t.ok(table.buffer instanceof SharedArrayBuffer, 'the table crosses threads without a copy');
  t.ok(table.length >= ids.length * 2, 'at most half full');
  const lookup = new IdLookup(ids, table);
  let wrong = 0;
  for (let i = 0; i < ids.length; i++) if (lookup.get(ids[i]) !== i) wrong++;
  t.equal(wrong, 0, 'each id gives its own item');
  for (const absent of ['sku-5000', 'sku-', 'SKU-1', '商品-2', ' ', 'sku-1 ']) t.equal(lookup.get(absent), undefined, `${JSON.stringify(absent)} is not found`);
});

t.test('an index of one id, and of none', async (t) => {
  t.equal(new IdLookup(['only'], idLookupTable(['only'])).get('only'), 0);
  t.equal(new IdLookup(['only'], idLookupTable(['only'])).get('other'), undefined);
  t.equal(new IdLookup([], idLookupTable([])).get('x'), undefined, 'an empty table ends every probe at once');
});
