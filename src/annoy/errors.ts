/** The bytes do not form a valid Annoy index for the metric and dimensions given. */
export class IndexFormatError extends Error {
  override name = 'IndexFormatError';
}

/** The caller asked for something the index cannot answer: wrong vector length, unknown item, bad n. */
export class AnnoyInputError extends Error {
  override name = 'AnnoyInputError';
}
