import { minkowskiMetric } from './minkowski.js';

export const manhattan = minkowskiMetric({
  name: 'manhattan',
  batchOp: 'l1',
  between(c, f32, word) {
    let s = 0;
    for (let z = 0; z < c.length; z++) s += Math.abs(c[z] - f32[word + z]);
    return s;
  },
  stored: (ctx, a, b) => ctx.kernels.l1Stored(a, b),
  normalized: (d) => Math.max(d, 0),
});
