import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { INDEX_NAME } from '../../index-files/index-name.js';
import { isIdsFileName, MAX_MANIFEST_BYTES, parseManifestJson } from '../../index-files/manifest.js';
import { readRegularFileText } from '../../index-files/open-regular.js';


export interface ScanResult {
  /** Names with both `<name>.ann` and `<name>.json`, sorted. */
  names: string[];
  /** `.ann` files skipped, with the reason (logged once by the caller). */
  ignored: { file: string; reason: string }[];
}

/** Lists the indexes of a directory: `<name>.ann` beside `<name>.json`, names matching INDEX_NAME. */
export function scanIndexDir(dir: string): ScanResult {
  const files = new Set(readdirSync(dir));
  const names: string[] = [];
  const ignored: ScanResult['ignored'] = [];
  for (const file of files) {
    if (!file.endsWith('.ann') || file.startsWith('.')) continue;
    const name = file.slice(0, -4);
    if (!INDEX_NAME.test(name)) {
      ignored.push({ file, reason: `name must match ${INDEX_NAME}` });
    } else if (!files.has(`${name}.json`)) {
      ignored.push({ file, reason: `no manifest ${name}.json beside it` });
    } else {
      // A FIFO or a device would block the loader's read for good, and with it every later swap.
      const problem = notAFile(dir, file) ?? notAFile(dir, `${name}.json`);
      if (problem === null) names.push(name);
      else ignored.push({ file, reason: `${problem}; ${name}.ann and ${name}.json must be regular files (or symlinks to them)` });
    }
  }
  return { names: names.sort(), ignored };
}

/**
 * Why `file` does not resolve to a regular file, or null when it does. A symlink left pointing at
 * nothing (the link of a key a Kubernetes volume flip just removed) was called "not a regular
 * file" like a FIFO, which its owner could not match to anything they did.
 */
function notAFile(dir: string, file: string): string | null {
  const s = statOrCode(join(dir, file));
  if (s === 'ENOENT') return isSymlink(join(dir, file)) ? `${file} is a symlink to a missing file` : `${file} was removed during the scan`;
  if (typeof s === 'string') return `${file} cannot be resolved (${s})`;
  return s.isFile() ? null : `${file} is not a regular file`;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * stat through symlinks, or the errno code when it fails: a symlink loop or a dangling link in a
 * mounted volume (ELOOP, EACCES, ...) is a problem of that one index, and must not stop the scan of
 * every other.
 */
function statOrCode(path: string): Stats | string {
  try {
    return statSync(path, { throwIfNoEntry: false }) ?? 'ENOENT';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

/**
 * Identity of what a path currently resolves to (through symlinks): a rename over the path, a copy
 * then rename, or a Kubernetes `..data` symlink flip all change dev/ino, an in-place rewrite changes
 * size or mtime. After `#` come mode and owner: a file rejected because the service could not read
 * it is loaded once its permissions are fixed, not only after the next delivery (see
 * contentFingerprint for why a served file's chmod does not reload it).
 */
export function fileIdentity(path: string): string {
  const s = statOrCode(path);
  if (s === 'ENOENT') return '-';
  return typeof s === 'string' ? `!${s}` : `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}#${s.mode}:${s.uid}:${s.gid}`;
}

/**
 * A fingerprint without its permission parts. A loaded index is remembered by this, so a chmod or
 * chown of files being served (same bytes) does not re-read them and bump the version; a rejected
 * one is remembered with them, so fixing its permissions retries it.
 */
export function contentFingerprint(fingerprint: string): string {
  return fingerprint.replace(/#[^|]*/g, '');
}

/** The ids file each manifest names, with the manifest identity it was read at: a manifest is read again only once it changes. */
const namedIds = new Map<string, { identity: string; file: string | null }>();

/** Drops what was remembered of a name's files once they are gone (dated names would pile up). */
export function forgetIndexFiles(dir: string, name: string): void {
  namedIds.delete(join(dir, `${name}.json`));
}

/** The file a manifest's "ids" names, or null (none, or a manifest the loader will refuse anyway). */
function idsFileNamedBy(manifestPath: string, identity: string): string | null {
  const known = namedIds.get(manifestPath);
  if (known?.identity === identity) return known.file;
  let file: string | null = null;
  try {
    const ids = (parseManifestJson(readRegularFileText(manifestPath, MAX_MANIFEST_BYTES)) as { ids?: unknown } | null)?.ids;
    if (isIdsFileName(ids)) file = ids;
  } catch {
    // Unreadable, too large or not JSON: the load reports it.
  }
  namedIds.set(manifestPath, { identity, file });
  return file;
}

/**
 * Fingerprint of the files an index is made of: `.ann`, manifest, `<name>.ids`, and the ids file
 * the manifest names when that is another file, so that file arriving after its manifest (a
 * rejected load) or replaced on its own is noticed too.
 */
export function indexFingerprint(dir: string, name: string): string {
  const manifest = join(dir, `${name}.json`);
  const manifestIdentity = fileIdentity(manifest);
  const own = `${name}.ids`;
  const named = manifestIdentity === '-' ? null : idsFileNamedBy(manifest, manifestIdentity);
  const extra = named !== null && named !== own ? `|${fileIdentity(join(dir, named))}` : '';
  return `${fileIdentity(join(dir, `${name}.ann`))}|${manifestIdentity}|${fileIdentity(join(dir, own))}${extra}`;
}
