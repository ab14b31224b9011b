import { IdCollector } from './id-collector.js';
import { RowBuffer } from './row-buffer.js';
import { textLines } from './text-lines.js';
import { InputError, type VectorSet } from './vector-set.js';

/**
 * JSON Lines: one `{"id": <int|string>, "vector": [...]}` per line, read as a stream. `id` may be
 * left out, but then on every line (row i becomes item i). Blank lines are skipped.
 */
export async function readJsonl(path: string): Promise<VectorSet> {
  const rows = new RowBuffer(path);
  const ids = new IdCollector(path);
  let withIds: boolean | undefined;
  let lineNo = 0;
  for await (const line of textLines(path)) {
    lineNo++;
    if (line.trim().length === 0) continue;
    const where = `line ${lineNo}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${path}: ${where}: invalid JSON (${(err as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError(`${path}: ${where}: expected an object like {"id": 1, "vector": [...]}`);
    }
    const record = value as Record<string, unknown>;
    if (!Array.isArray(record.vector)) throw new InputError(`${path}: ${where}: "vector" must be an array of numbers`);
    const hasId = record.id !== undefined;
    if (withIds === undefined) withIds = hasId;
    else if (withIds !== hasId) {
      throw new InputError(`${path}: ${where}: ${hasId ? 'has an "id" but earlier lines have none' : 'has no "id" but earlier lines do'}; give an id on every line or on none`);
    }
    rows.push(record.vector, where);
    if (hasId) ids.add(record.id, where);
  }
  const vectors = rows.finish();
  return { vectors, dimensions: rows.dimensions, ids: withIds ? ids.finish() : null };
}
