import { IdCollector } from './id-collector.js';
import { RowBuffer } from './row-buffer.js';
import { textLines } from './text-lines.js';
import { InputError, type VectorSet } from './vector-set.js';

/** Decimal numbers plus the spellings of NaN/Infinity, so those are recognised as numbers and then rejected by value. */
const NUMBER = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;

interface Cell {
  text: string;
  quoted: boolean;
}

/**
 * Comma-separated values, read as a stream; blank lines are skipped. Cells may be double-quoted
 * ("" escapes a quote), but a cell cannot span lines.
 *
 * Header: the first line is a header when its first cell is `id` (any case), or empty above named
 * columns, or a name above columns numbered 0, 1, 2, … (how pandas' to_csv heads its index and an
 * array's columns), or when its later cells are text (not numbers, quoted or not; empty ones
 * aside). A header made only of numbers cannot be told from data and is read as data; a first
 * line mixing text and numbers after the first cell is refused.
 *
 * Id column: the first column holds ids when the header is one of the first three kinds, or
 * when the first cell of the first data row is not a number (e.g. a name, or any quoted value).
 * Otherwise every column is a vector component and row i becomes item i. Unquoted integer ids are
 * item ids; other ids are names (quote an integer to make it a name).
 */
export async function readCsv(path: string): Promise<VectorSet> {
  const rows = new RowBuffer(path);
  const ids = new IdCollector(path);
  let header: boolean | undefined;
  let idColumn: boolean | undefined;
  let lineNo = 0;
  for await (const line of textLines(path)) {
    lineNo++;
    if (line.trim().length === 0) continue;
    const where = `line ${lineNo}`;
    const cells = splitCsvLine(line, path, where);
    if (cells.length === 1 && !cells[0].quoted) checkSeparator(cells[0].text, path, where);
    if (header === undefined) {
      // A header that names the id column settles it; any other leaves it to the first data row.
      if (namesIdColumn(cells)) idColumn = true;
      header = idColumn === true || isHeader(cells, path, where);
      if (header) continue;
    }
    if (idColumn === undefined) idColumn = !isNumber(cells[0]);
    if (idColumn) {
      if (cells.length < 2) throw new InputError(`${path}: ${where}: only an id, no vector values`);
      ids.add(idValue(cells[0]), where);
    }
    const values = new Array<unknown>(cells.length - (idColumn ? 1 : 0));
    for (let j = 0; j < values.length; j++) {
      const cell = cells[j + (idColumn ? 1 : 0)];
      values[j] = isNumeric(cell) ? parseNumber(cell.text) : cell.text;
    }
    rows.push(values, where);
  }
  const vectors = rows.finish();
  return { vectors, dimensions: rows.dimensions, ids: idColumn ? ids.finish() : null };
}

/**
 * A line that is one unquoted cell holding semicolons or tabs comes from a file separated by them:
 * read as is, its first line became a "header" and the next "only an id, no vector values". So does
 * one of numbers between spaces, as np.savetxt writes unless given delimiter=','.
 */
function checkSeparator(text: string, path: string, where: string): void {
  const separator = text.includes(';') ? 'semicolons' : text.includes('\t') ? 'tabs' : isSpacedNumbers(text) ? 'spaces' : null;
  if (separator !== null) throw new InputError(`${path}: ${where}: no commas: cells in a .csv are separated by commas, this line by ${separator}`);
}

function isSpacedNumbers(text: string): boolean {
  const words = text.trim().split(/ +/);
  return words.length > 1 && words.every((word) => NUMBER.test(word));
}

/**
 * A header whose first cell names the id column: `id` in any case (spaces around it allowed), or
 * nothing above named columns, which is how pandas' to_csv and R's write.csv head the index they
 * write first. Read as a vector component, that index became one more dimension without a word.
 */
function namesIdColumn(cells: Cell[]): boolean {
  const first = cells[0].text.trim();
  if (first.toLowerCase() === 'id') return true;
  if (first !== '' && !isNumeric(cells[0]) && isNumberedColumns(cells)) return true;
  return first === '' && cells.length > 1 && cells.slice(1).every((cell) => cell.text.trim().length > 0);
}

/**
 * Later cells counting 0, 1, 2, … are the labels pandas gives the columns of a DataFrame made from
 * an array; under a named index (`name,0,1,2`) the line was read as data: one more item, "name",
 * with the vector [0, 1, 2]. At least three, so a row of bits (`a,0,1`) is still a row.
 */
function isNumberedColumns(cells: Cell[]): boolean {
  return cells.length > 3 && cells.every((cell, j) => j === 0 || cell.text.trim() === String(j - 1));
}

/** A first line that is a header without naming the id column (namesIdColumn is asked first). */
function isHeader(cells: Cell[], path: string, where: string): boolean {
  // Quoting does not make a number a name here: data rows read quoted numbers as values, so
  // writers that quote every cell would otherwise lose their first row to a "header".
  if (cells.length === 1) return !isNumeric(cells[0]);
  // Empty cells are missing values, not names.
  const text = cells.findIndex((cell, j) => j > 0 && !isNumeric(cell) && cell.text.trim().length > 0);
  if (text < 0) return false;
  // Names and numbers side by side are most likely a row of values with a bad cell ("N/A"): taken
  // for a header, that row was dropped without a word and every later row became the item before it.
  const number = cells.findIndex((cell, j) => j > 0 && isNumeric(cell));
  if (number < 0) return true;
  throw new InputError(
    `${path}: ${where}: neither a header nor a row of values: cell ${text + 1} is the text ${JSON.stringify(cells[text].text)}, cell ${number + 1} ` +
      `the number ${cells[number].text.trim()}; a header names every column, a row holds only numbers after the id`,
  );
}

/** Whether the cell's text is a number, quoted or not (the id column is where quotes matter). */
function isNumeric(cell: Cell): boolean {
  return NUMBER.test(cell.text.trim());
}

function isNumber(cell: Cell): boolean {
  return !cell.quoted && isNumeric(cell);
}

/** Number() does not read "inf"/"nan"; map them so the row check reports them as non-finite values. */
function parseNumber(text: string): number {
  const t = text.trim().toLowerCase().replace(/^\+/, '');
  if (t === 'nan' || t === '-nan') return NaN;
  if (t === 'inf' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  return Number(t);
}

function idValue(cell: Cell): number | string {
  if (cell.quoted) return cell.text;
  const text = cell.text.trim();
  return NUMBER.test(text) ? parseNumber(text) : text;
}

function splitCsvLine(line: string, path: string, where: string): Cell[] {
  const cells: Cell[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new InputError(`${path}: ${where}: unterminated quoted cell (cells cannot span lines)`);
        text += line.slice(i, q);
        if (line[q + 1] === '"') {
          text += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') throw new InputError(`${path}: ${where}: unexpected text after a quoted cell`);
      cells.push({ text, quoted: true });
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      cells.push({ text: line.slice(i, end).trim(), quoted: false });
      i = end;
    }
    if (i >= line.length) return cells;
    i++; // the comma
  }
}
