import { minkowskiMetric } from './minkowski.js';

export const euclidean = minkowskiMetric({
  name: 'euclidean',
  batchOp: 'l2',
  between(c, f32, word) {
    let s = 0;
    for (let z = 0; z < c.length; z++) {
      const t = c[z] - f32[word + z];
      s += t * t;
    }
    return s;
  },
  stored: (ctx, a, b) => ctx.kernels.l2Stored(a, b),
  // Annoy stores squared L2 and shows its root; rounding can make it slightly negative.
  normalized: (d) => Math.fround(Math.sqrt(Math.max(d, 0))),
});
