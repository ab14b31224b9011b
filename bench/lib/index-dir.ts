import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricName } from '../../src/annoy/index.js';

export interface ManifestFields {
  metric: MetricName;
  dimensions: number;
  description?: string;
  /** Adds sha256 + bytes, so the service rejects a manifest/file pair that do not belong together. */
  checksum?: boolean;
}

export function tempIndexDir(label: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `nnserve-bench-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function manifestText(annFile: string, fields: ManifestFields): string {
  const manifest: Record<string, unknown> = { metric: fields.metric, dimensions: fields.dimensions, annoyVersion: '1.17', ids: null };
  if (fields.description) manifest.description = fields.description;
  if (fields.checksum) {
    manifest.bytes = statSync(annFile).size;
    manifest.sha256 = createHash('sha256').update(readFileSync(annFile)).digest('hex');
  }
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Puts `<name>.ann` + `<name>.json` into `dir` the way the README's hot swap does: copy under a
 * temporary name, then rename over the live path (atomic on one filesystem), manifest first, index
 * file last.
 */
export function publishIndex(dir: string, name: string, annFile: string, fields: ManifestFields): void {
  const stage = join(dir, `.${name}.staging`);
  copyFileSync(annFile, `${stage}.ann`);
  writeFileSync(`${stage}.json`, manifestText(annFile, fields));
  renameSync(`${stage}.json`, join(dir, `${name}.json`));
  renameSync(`${stage}.ann`, join(dir, `${name}.ann`));
}

/** Prepared copies for fast repeated swaps: both files already staged, publishing is two renames. */
export function stageIndex(dir: string, name: string, tag: string, annFile: string, fields: ManifestFields): { ann: string; json: string } {
  const ann = join(dir, `.${name}.${tag}.ann`);
  const json = join(dir, `.${name}.${tag}.json`);
  copyFileSync(annFile, ann);
  writeFileSync(json, manifestText(annFile, fields));
  return { ann, json };
}
