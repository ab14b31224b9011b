import { INDEX_NAME } from '../index-files/index-name.js';
import { FetchError } from './errors.js';

/** Where an index is published and what it is called locally. */
export interface IndexSource {
  /** `<base>/<remoteName>.json`; data files are resolved relative to it. */
  manifestUrl: URL;
  remoteName: string;
  /** `<localName>.ann`, `.json`, `.ids` in the target directory. */
  localName: string;
}

/**
 * Accepts either the manifest URL (`…/products.json`, local name defaults to `products`) or a base
 * URL plus a name (`…/indexes/` + `products`). A query string on a manifest URL (e.g. a signed URL)
 * is kept for the manifest only, because it would not be valid for the other files.
 */
export function resolveSource(url: string, name?: string): IndexSource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FetchError(`not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FetchError(`only http and https URLs are supported (got ${parsed.protocol})`);
  }
  let manifestUrl: URL;
  let remoteName: string;
  if (parsed.pathname.endsWith('.json')) {
    manifestUrl = parsed;
    const file = decodeURIComponent(parsed.pathname.slice(parsed.pathname.lastIndexOf('/') + 1));
    remoteName = file.slice(0, -'.json'.length);
  } else {
    if (name === undefined) {
      throw new FetchError(`${url} does not name a manifest (…/<name>.json); pass --name <name> to fetch <url>/<name>.json`);
    }
    const base = new URL(parsed.href);
    base.search = '';
    base.hash = '';
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    remoteName = name;
    manifestUrl = new URL(`${encodeURIComponent(name)}.json`, base);
  }
  const localName = name ?? remoteName;
  if (!INDEX_NAME.test(localName)) {
    throw new FetchError(`index name ${JSON.stringify(localName)} must match ${INDEX_NAME} (choose one with --name)`);
  }
  if (remoteName.length === 0 || remoteName.includes('/')) {
    throw new FetchError(`${manifestUrl.href}: cannot derive an index name from this URL`);
  }
  return { manifestUrl, remoteName, localName };
}

/** A file published beside the manifest (`<remoteName>.ann`, the ids file). */
export function siblingUrl(source: IndexSource, file: string): URL {
  const base = new URL(source.manifestUrl.href);
  base.search = '';
  base.hash = '';
  return new URL(encodeURIComponent(file), base);
}
