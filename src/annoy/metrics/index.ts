import { angular } from './angular.js';
import { dot } from './dot.js';
import { euclidean } from './euclidean.js';
import { hamming } from './hamming.js';
import { manhattan } from './manhattan.js';
import type { Metric } from './metric.js';
import type { MetricName } from './names.js';

const METRICS: Readonly<Record<MetricName, Metric>> = Object.freeze({ angular, euclidean, manhattan, dot, hamming });

export function metricByName(name: MetricName): Metric {
  return METRICS[name];
}

/** "an angular index with 8 dimensions", for messages about the geometry a file was read with. */
export function describeIndex(name: MetricName, dimensions: number): string {
  return `${name === 'angular' ? 'an' : 'a'} ${name} index with ${dimensions} dimensions`;
}
