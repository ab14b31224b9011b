import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { idsChecksumProblem, ManifestError, MAX_MANIFEST_BYTES, parseIdsFile, parseManifest, parseManifestJson, type IndexManifest } from '../index-files/manifest.js';
import { checkUnverifiedAnn } from './ann-shape.js';
import { downloadFile } from './download.js';
import { FetchError } from './errors.js';
import { fileSha256 } from './file-sha256.js';
import { describe, httpGet } from './http.js';
import { siblingUrl, type IndexSource } from './source.js';

export interface SyncOptions {
  source: IndexSource;
  dir: string;
  dispatcher: Dispatcher;
  signal?: AbortSignal;
}

/**
 * What one process remembers between passes (`--interval`), so an unchanged publication costs one
 * small request and no hashing of the local file.
 */
export interface SyncMemory {
  manifestEtag: string | null;
  annEtag: string | null;
  /** The local `.ann` whose sha256 we computed or wrote, identified by inode, size and mtime. */
  verified: { identity: string; sha256: string } | null;
}

export function emptyMemory(): SyncMemory {
  return { manifestEtag: null, annEtag: null, verified: null };
}

export interface SyncResult {
  status: 'updated' | 'unchanged';
  /** How "unchanged" was decided, or what was installed. */
  detail: string;
  bytes: number;
  sha256: string | null;
}

/**
 * One pass: brings `<dir>/<localName>.{ann,ids,json}` in line with the published manifest.
 *
 * Install order is data first, manifest last: `.ids`, then `.ann`, then `.json`, each a rename of
 * a fully written, verified temp file in the same directory (atomic on one filesystem). The
 * manifest is the commit point — a reader never finds a manifest whose data is not already in
 * place — and the server's watcher waits for all three files to stop changing (debounce) and
 * re-checks them after loading, so the short window in which a new `.ann` sits beside the old
 * manifest is never served. When anything fails, nothing has been renamed and the old files stay.
 */
export async function syncIndex(options: SyncOptions, memory: SyncMemory): Promise<SyncResult> {
  const { source, dir } = options;
  const paths = {
    ann: join(dir, `${source.localName}.ann`),
    manifest: join(dir, `${source.localName}.json`),
    ids: join(dir, `${source.localName}.ids`),
  };
  const localManifestText = await readFile(paths.manifest, 'utf8').catch(() => null);
  const annStat = await stat(paths.ann).catch(() => null);

  // An ETag vouches for the publication, not for the local copy: it only holds while the .ann is
  // still the file this process installed or hashed (a copy or rewrite over it changes that).
  const annUntouched = annStat !== null && memory.verified?.identity === identityOf(annStat);
  // Nor for a local ids file deleted or edited since: the server refuses ids that do not match the
  // manifest's idsSha256, and a fetch that called them unchanged would never repair them. Read
  // (and hashed) only on a pass that could end as unchanged.
  let intact: Promise<boolean> | undefined;
  const idsIntact = () => (intact ??= localIdsIntact(paths.ids, localManifestText));
  const manifestEtag = localManifestText !== null && annUntouched && memory.manifestEtag !== null && (await idsIntact()) ? memory.manifestEtag : null;
  const response = await httpGet(source.manifestUrl, { dispatcher: options.dispatcher, etag: manifestEtag, signal: options.signal });
  if (response.status === 'not-modified') {
    return { status: 'unchanged', detail: 'manifest not modified (ETag)', bytes: annStat?.size ?? 0, sha256: memory.verified?.sha256 ?? null };
  }
  const publishedText = await readManifestBody(source, response);
  const manifest = parseRemoteManifest(source, publishedText);
  const idsFile = manifest.ids ? `${source.localName}.ids` : null;
  const manifestText = localManifestFor(manifest, publishedText, idsFile);

  const sameManifest = localManifestText === manifestText && annStat !== null && (await idsIntact());
  if (sameManifest && manifest.sha256 !== undefined && (manifest.bytes === undefined || annStat.size === manifest.bytes)) {
    const localSha = await localSha256(paths.ann, memory);
    if (localSha === manifest.sha256) {
      memory.manifestEtag = response.etag;
      return { status: 'unchanged', detail: 'manifest and sha256 match the local copy', bytes: annStat.size, sha256: localSha };
    }
  }

  await removeStaleTemps(dir, source.localName);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temps = {
    ann: join(dir, `.${source.localName}.ann.fetch-${tag}`),
    manifest: join(dir, `.${source.localName}.json.fetch-${tag}`),
    ids: join(dir, `.${source.localName}.ids.fetch-${tag}`),
  };
  const cleanup = () => Promise.all(Object.values(temps).map((p) => unlink(p).catch(() => undefined)));
  try {
    // Without a published checksum the server's ETag is the only cheap identity of the data.
    const annEtag = sameManifest && manifest.sha256 === undefined && annUntouched ? memory.annEtag : null;
    const annUrl = siblingUrl(source, `${source.remoteName}.ann`);
    const ann = await downloadFile(
      annUrl,
      temps.ann,
      { bytes: manifest.bytes, sha256: manifest.sha256 },
      { dispatcher: options.dispatcher, etag: annEtag, signal: options.signal },
    );
    if (ann.status === 'not-modified') {
      memory.manifestEtag = response.etag;
      return { status: 'unchanged', detail: 'manifest identical and .ann not modified (ETag)', bytes: annStat?.size ?? 0, sha256: memory.verified?.sha256 ?? null };
    }
    if (manifest.bytes === undefined && manifest.sha256 === undefined) await checkUnverifiedAnn(annUrl, temps.ann, ann.bytes, manifest);
    if (sameManifest && annStat !== null && annStat.size === ann.bytes && (await localSha256(paths.ann, memory)) === ann.sha256) {
      memory.manifestEtag = response.etag;
      memory.annEtag = ann.etag;
      await cleanup();
      return { status: 'unchanged', detail: 'downloaded data identical to the local copy', bytes: ann.bytes, sha256: ann.sha256 };
    }
    if (manifest.ids) {
      const idsUrl = siblingUrl(source, manifest.ids);
      await downloadFile(idsUrl, temps.ids, { lines: manifest.items }, { dispatcher: options.dispatcher, signal: options.signal });
      // The server would refuse it too, but only once installed over the ids file being served.
      const stale = idsChecksumProblem(parseIdsFile(await readFile(temps.ids, 'utf8')), manifest, idsUrl.href);
      if (stale) throw new FetchError(stale);
    }
    await writeFile(temps.manifest, manifestText, { flag: 'wx', mode: 0o644 });

    if (manifest.ids) await rename(temps.ids, paths.ids);
    await rename(temps.ann, paths.ann);
    await rename(temps.manifest, paths.manifest);
    if (!manifest.ids) await unlink(paths.ids).catch(() => undefined);
    await syncDir(dir);

    const installed = await stat(paths.ann);
    memory.verified = { identity: identityOf(installed), sha256: ann.sha256 };
    memory.manifestEtag = response.etag;
    memory.annEtag = ann.etag;
    return { status: 'updated', detail: manifest.sha256 ? 'verified sha256' : 'no sha256 in the manifest; not verified', bytes: ann.bytes, sha256: ann.sha256 };
  } catch (err) {
    await cleanup();
    if (err instanceof FetchError) throw err;
    throw new FetchError(`installing ${source.localName} into ${dir}: ${describe(err)}`);
  }
}

async function readManifestBody(source: IndexSource, response: { body: AsyncIterable<unknown>; contentLength: number | null }): Promise<string> {
  const url = source.manifestUrl.href;
  if (response.contentLength !== null && response.contentLength > MAX_MANIFEST_BYTES) {
    throw new FetchError(`${url}: ${response.contentLength} bytes is too large for a manifest`);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > MAX_MANIFEST_BYTES) throw new FetchError(`${url}: more than ${MAX_MANIFEST_BYTES} bytes is too large for a manifest`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof FetchError) throw err;
    throw new FetchError(`${url}: download failed after ${bytes} bytes: ${describe(err)}`);
  }
  if (response.contentLength !== null && bytes !== response.contentLength) {
    throw new FetchError(`${url}: body truncated: got ${bytes} of ${response.contentLength} bytes`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseRemoteManifest(source: IndexSource, text: string): IndexManifest {
  let value: unknown;
  try {
    value = parseManifestJson(text);
  } catch (err) {
    throw new FetchError(`${source.manifestUrl.href}: not valid JSON (${(err as Error).message})`);
  }
  try {
    return parseManifest(value, source.manifestUrl.href);
  } catch (err) {
    if (err instanceof ManifestError) throw new FetchError(err.message);
    throw err;
  }
}

/**
 * The manifest as it is written locally: byte-for-byte the published one, unless the ids file has
 * to be renamed to `<localName>.ids` (so two local names never share an ids file).
 */
function localManifestFor(manifest: IndexManifest, publishedText: string, idsFile: string | null): string {
  if ((manifest.ids ?? null) === idsFile) return publishedText;
  return JSON.stringify({ ...manifest, ids: idsFile }, null, 2) + '\n';
}

/** Hashes the local `.ann` unless this process already knows the hash of exactly this file. */
async function localSha256(path: string, memory: SyncMemory): Promise<string> {
  const before = identityOf(await stat(path));
  if (memory.verified?.identity === before) return memory.verified.sha256;
  const sha256 = await fileSha256(path);
  if (identityOf(await stat(path)) === before) memory.verified = { identity: before, sha256 };
  return sha256;
}

function identityOf(s: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
}

/**
 * Whether the ids file the local manifest names is there and, where the manifest gives an
 * idsSha256, holds those ids. True when there is no local manifest or it names no ids file.
 */
async function localIdsIntact(path: string, localManifestText: string | null): Promise<boolean> {
  let manifest: IndexManifest;
  try {
    if (localManifestText === null) return true;
    manifest = parseManifest(parseManifestJson(localManifestText));
  } catch {
    return true;
  }
  if (!manifest.ids) return true;
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return false;
  try {
    return idsChecksumProblem(parseIdsFile(text), manifest, path) === null;
  } catch {
    return false;
  }
}

/** Temp files of an earlier run that was killed mid-download (pod eviction, OOM). */
async function removeStaleTemps(dir: string, localName: string): Promise<void> {
  const prefixes = ['ann', 'json', 'ids'].map((ext) => `.${localName}.${ext}.fetch-`);
  for (const file of await readdir(dir)) {
    if (prefixes.some((p) => file.startsWith(p))) await unlink(join(dir, file)).catch(() => undefined);
  }
}

/** Makes the renames durable; some filesystems refuse fsync on a directory, which is harmless. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}
