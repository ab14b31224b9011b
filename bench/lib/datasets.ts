import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { MetricName } from '../../src/annoy/index.js';
import { DATA_DIR } from './results.js';

/** Vectors for one benchmark: row-major float32 data plus the same bytes on disk for annoy-ref. */
export interface Dataset {
  /** Shown in tables. */
  title: string;
  /** File-name key; encodes the sizes so quick and full runs never share caches. */
  key: string;
  metric: MetricName;
  dimensions: number;
  train: Float32Array;
  queries: Float32Array;
  trainFile: string;
  queriesFile: string;
}

export function rows(vectors: Float32Array, dimensions: number): number {
  return vectors.length / dimensions;
}

export function row(vectors: Float32Array, dimensions: number, i: number): Float32Array {
  return vectors.subarray(i * dimensions, (i + 1) * dimensions);
}

function writeF32(path: string, data: Float32Array): void {
  if (!existsSync(path)) writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

const FMNIST_DIR = join(DATA_DIR, 'fashion-mnist');
const FMNIST_FILES = join(FMNIST_DIR, 'usr/share/datasets/fashion-mnist');

/** Fetches the Debian package `dataset-fashion-mnist` into bench/data once (apt-get download + dpkg -x, no root needed). */
function ensureFashionMnist(): void {
  if (existsSync(join(FMNIST_FILES, 'train-images-idx3-ubyte.gz'))) return;
  mkdirSync(FMNIST_DIR, { recursive: true });
  let deb = readdirSync(DATA_DIR).find((f) => f.startsWith('dataset-fashion-mnist') && f.endsWith('.deb'));
  if (!deb) {
    execFileSync('apt-get', ['download', 'dataset-fashion-mnist'], { cwd: DATA_DIR, stdio: 'inherit' });
    deb = readdirSync(DATA_DIR).find((f) => f.startsWith('dataset-fashion-mnist') && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download dataset-fashion-mnist left no .deb in bench/data');
  }
  execFileSync('dpkg', ['-x', join(DATA_DIR, deb), FMNIST_DIR], { stdio: 'inherit' });
}

/** Parses an idx3-ubyte image file (magic 0x803, count, rows, cols, then one byte per pixel). */
function readIdxImages(path: string, limit: number): { count: number; dimensions: number; pixels: Float32Array } {
  const bytes = gunzipSync(readFileSync(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x803) throw new Error(`${path}: not an idx3 image file`);
  const count = Math.min(limit, view.getUint32(4));
  const dimensions = view.getUint32(8) * view.getUint32(12);
  const pixels = new Float32Array(count * dimensions);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[16 + i];
  return { count, dimensions, pixels };
}

/** Fashion-MNIST: train images as the index, the first `queries` test images as queries; raw 0..255 pixels, euclidean. */
export function fashionMnist(trainLimit = 60_000, queries = 1_000): Dataset {
  ensureFashionMnist();
  const train = readIdxImages(join(FMNIST_FILES, 'train-images-idx3-ubyte.gz'), trainLimit);
  const test = readIdxImages(join(FMNIST_FILES, 't10k-images-idx3-ubyte.gz'), queries);
  const key = `fashion-mnist-${train.count}-${test.count}`;
  const ds: Dataset = {
    title: `Fashion-MNIST ${train.count.toLocaleString('en-US')} × ${train.dimensions}, euclidean`,
    key,
    metric: 'euclidean',
    dimensions: train.dimensions,
    train: train.pixels,
    queries: test.pixels,
    trainFile: join(DATA_DIR, `${key}.train.f32`),
    queriesFile: join(DATA_DIR, `${key}.queries.f32`),
  };
  writeF32(ds.trainFile, ds.train);
  writeF32(ds.queriesFile, ds.queries);
  return ds;
}

/** A small seeded generator (LCG + Box–Muller), so every run and every process sees the same vectors. */
export function gaussianSource(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function gaussianVectors(count: number, dimensions: number, seed: number): Float32Array {
  const next = gaussianSource(seed);
  const out = new Float32Array(count * dimensions);
  for (let i = 0; i < out.length; i++) out[i] = next();
  return out;
}

/** Isotropic gaussian vectors (the hard case for trees: no structure to find), angular. */
export function gaussian(count = 100_000, dimensions = 40, queries = 1_000, metric: MetricName = 'angular'): Dataset {
  const key = `gaussian-${metric}-${count}-${dimensions}-${queries}`;
  const ds: Dataset = {
    title: `Gaussian ${count.toLocaleString('en-US')} × ${dimensions}, ${metric}`,
    key,
    metric,
    dimensions,
    train: gaussianVectors(count, dimensions, 12345),
    queries: gaussianVectors(queries, dimensions, 67890),
    trainFile: join(DATA_DIR, `${key}.train.f32`),
    queriesFile: join(DATA_DIR, `${key}.queries.f32`),
  };
  mkdirSync(DATA_DIR, { recursive: true });
  writeF32(ds.trainFile, ds.train);
  writeF32(ds.queriesFile, ds.queries);
  return ds;
}
