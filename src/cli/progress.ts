/** Redrawing more often than this only costs time; the last step is always drawn. */
const REDRAW_MS = 100;

export interface Progress {
  update(done: number, total: number): void;
  /** Removes the bar so the summary line starts on a clean line. */
  finish(): void;
}

interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

/**
 * A one-line bar `label [#####-----] done/total unit elapsed` on a terminal; on anything else
 * (a pipe, a log file) it draws nothing, so logs only get the command's summary line.
 */
export function createProgress(label: string, unit: string, stream: Terminal = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = Date.now();
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if ((total <= 0 || done < total) && now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      // A negative total means "not known in advance" (Annoy's automatic tree count).
      const tail = ` ${done}${total > 0 ? `/${total}` : ''} ${unit} ${formatElapsed(now - started)}`;
      const width = Math.max(10, Math.min(40, (stream.columns || 80) - label.length - tail.length - 4));
      const filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : width;
      stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
