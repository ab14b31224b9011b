/**
 * What an index name may be: the service serves `<name>.ann` only for these, the route schemas use
 * the same text for `{name}`, and `nnserve build` and `nnserve fetch` check their output names
 * against it.
 */
export const INDEX_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';
export const INDEX_NAME = new RegExp(INDEX_NAME_PATTERN);
