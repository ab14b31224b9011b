import { formatBytes } from '../../build/format-bytes.js';

/** Kept free beyond the index itself: the loader thread, validation, the heap's growth. */
export const LOAD_MARGIN_BYTES = 32 * 1024 * 1024;

export interface MemoryState {
  /** The container's memory limit in bytes; null when unlimited. */
  limit: number | null;
  /** Resident memory of the process now (the versions being served included). */
  rss: number;
}

/**
 * Why reading `bytes` more into memory would overrun the container's limit, or null when it fits.
 * Past the limit the kernel kills the process, and with it every index being served; refusing the
 * load keeps them serving (a hot swap holds the old and the new version at once).
 */
export function memoryShortfall(file: string, bytes: number, { limit, rss }: MemoryState): string | null {
  if (limit === null) return null;
  const room = limit - rss;
  if (bytes + LOAD_MARGIN_BYTES <= room) return null;
  return (
    `${file} needs ${formatBytes(bytes)} and the memory limit (${formatBytes(limit)}) leaves ${formatBytes(Math.max(0, room))} ` +
    `with ${formatBytes(rss)} in use: not loaded, since that would get the process killed; tried again later (a swap holds the old and the new version at once: raise the limit, or remove an index)`
  );
}
