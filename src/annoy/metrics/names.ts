export const METRIC_NAMES = ['angular', 'euclidean', 'manhattan', 'dot', 'hamming'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export function isMetricName(value: unknown): value is MetricName {
  return typeof value === 'string' && (METRIC_NAMES as readonly string[]).includes(value);
}
