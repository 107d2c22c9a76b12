// Argument checks for the public API (STYLE.md §2, after sharp's lib/is.mjs):
// TypeError for a wrong type, RangeError for a bad shape or value, with
// messages of the form "Expected {what} for {name} but received {actual}".

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  switch (typeof value) {
    case 'number': return `${value}`;
    case 'string': return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
    case 'undefined': return 'undefined';
    case 'function': return 'a function';
    case 'object': return `an object (${(value as object).constructor?.name ?? 'Object'})`;
    default: return `a ${typeof value}`;
  }
}

export function typeError(name: string, what: string, actual: unknown): TypeError {
  return new TypeError(`Expected ${what} for ${name} but received ${describe(actual)}`);
}

export function rangeError(name: string, what: string, actual: unknown): RangeError {
  return new RangeError(`Expected ${what} for ${name} but received ${describe(actual)}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An integer in [min, max]. */
export function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw typeError(name, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(name, `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`, value);
  }
  return value;
}

/** A finite number in [min, max] (bounds inclusive unless stated otherwise). */
export function number(name: string, value: unknown, min = -Infinity, max = Infinity,
                       { minExclusive = false, maxExclusive = false } = {}): number {
  if (typeof value !== 'number') throw typeError(name, 'a number', value);
  const ok = Number.isFinite(value) &&
    (minExclusive ? value > min : value >= min) && (maxExclusive ? value < max : value <= max);
  if (!ok) {
    const lo = min === -Infinity ? '(-∞' : `${minExclusive ? '(' : '['}${min}`;
    const hi = max === Infinity ? '∞)' : `${max}${maxExclusive ? ')' : ']'}`;
    throw rangeError(name, `a finite number in ${lo}, ${hi}`, value);
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  return value;
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw typeError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  if (!(allowed as readonly string[]).includes(value)) {
    throw rangeError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

/**
 * An options object (or undefined → {}) whose keys are all known: a typo such
 * as `{ epoch: 5 }` fails loudly instead of being silently ignored.
 */
export function options<K extends string>(name: string, value: unknown, known: readonly K[]): Partial<Record<K, unknown>> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw typeError(name, 'an options object', value);
  for (const key of Object.keys(value)) {
    if (!(known as readonly string[]).includes(key)) {
      throw new RangeError(`Unknown option '${key}' for ${name}; expected one of ${known.join(', ')}`);
    }
  }
  return value as Partial<Record<K, unknown>>;
}
