export { AnnoyIndex, type IndexSummary, type OpenOptions, type QueryResult } from './annoy-index.js';
export { AnnoyBuilder, DEFAULT_SEED, buildForestPart, forestPlan, type PreparedBuild } from './annoy-builder.js';
export { AnnoyInputError, IndexFormatError } from './errors.js';
export { METRIC_NAMES, isMetricName, type MetricName } from './metrics/names.js';
export { isSearchK, queryVectorProblem, SEARCH_K_RULE } from './metrics/query-limits.js';
export { allocateStorage, storageBytes, storageFromBytes, type IndexStorage } from './storage.js';
export type { ForestPart } from './tree-builder.js';
