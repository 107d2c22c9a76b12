// Reading CSV cells as numbers: which strings are numbers (decimal only, as
// pandas and numpy read them), and a fast exact path for short plain decimals,
// shared by parseCsv (csv.ts) and the quote-free reader (csv-records.ts).

/**
 * A decimal number as CSV files write them ('1', '-0.5', '.5', '5.', '1e-3').
 * Number() alone also reads '0x1F', '0b11' and '0o7' — codes and IDs more
 * often than numbers, and text to pandas and numpy.
 */
export const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Number(cell) for a decimal cell, NaN for any other. Most cells of a large
 * file are short plain decimals ('0', '255', '-3.1416'): for those, the digits
 * read as one integer m (exact: at most 15 digits stay below 2⁵³) divided by
 * 10^k (exact for k ≤ 22) is Number(cell) itself, since IEEE division rounds
 * correctly — Clinger's fast path (W. D. Clinger, "How to Read Floating Point
 * Numbers Accurately", PLDI 1990). Longer cells and exponents go through the
 * regular expression and Number(). test/csv-fast.test.ts checks it against Number().
 */
export function decimalValue(cell: string): number {
  const n = cell.length;
  if (n > 0 && n <= 17) {
    let i = 0;
    const sign = cell.charCodeAt(0);
    if (sign === 45 || sign === 43) i = 1;                // '-' or '+'
    let m = 0;
    let digits = 0;
    let point = -1;
    for (; i < n; i++) {
      const c = cell.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        m = m * 10 + (c - 48);
        digits++;
      } else if (c === 46 && point < 0) {
        point = digits;                                   // '.'
      } else {
        break;
      }
    }
    if (i === n && digits > 0 && digits <= 15) {
      const v = point < 0 ? m : m / POWERS_OF_TEN[digits - point]!;
      return sign === 45 ? -v : v;
    }
  }
  return DECIMAL.test(cell) ? Number(cell) : NaN;
}

/** 10^0 … 10^15, each exact as a double. */
export const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => Number(`1e${k}`));
