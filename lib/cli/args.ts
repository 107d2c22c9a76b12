// Command-line arguments for the fastmlp CLI: node:util parseArgs with every
// option declared as a string, then converted here, so a bad value gives one
// line that names the flag ("Expected an integer ≥ 1 for --epochs but received
// 'ten'") instead of a stack trace.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

/** A usage error: printed as one line on stderr, exit code 2. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

export interface FlagSpec {
  /** Shown in --help after the flag, e.g. 'N'; absent for a boolean switch. */
  value?: string;
  help: string;
  default?: string;
  /** A one-letter alias, e.g. 'o' for -o. */
  short?: string;
}

export type Flags = Record<string, FlagSpec>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses argv for one command; unknown flags and missing values become CliErrors. */
export function parseCommand(command: string, argv: string[], flags: Flags, maxPositionals: number): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean' } };
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = { type: spec.value ? 'string' : 'boolean', ...(spec.short ? { short: spec.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${parseArgsMessage(e as Error & { code?: string })} (see fastmlp ${command} --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (!values['help'] && parsed.positionals.length > maxPositionals) {
    throw new CliError(`fastmlp ${command} takes at most ${maxPositionals} file argument(s) but received ` +
      `${parsed.positionals.length}: ${parsed.positionals.join(' ')} (see fastmlp ${command} --help)`);
  }
  for (const [name, spec] of Object.entries(flags)) {
    if (values[name] === undefined && spec.default !== undefined) values[name] = spec.default;
  }
  return { values, positionals: parsed.positionals };
}

/** parseArgs's messages are long and suggest '--' tricks; keep the part that names the flag. */
function parseArgsMessage(e: Error & { code?: string }): string {
  const flag = /'(-[^']*)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return `unknown option ${flag}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = flag.split(' ')[0];
      if (e.message.includes('argument missing')) return `option ${option} needs a value`;
      if (e.message.includes('ambiguous')) return `option ${option} is followed by a value starting with '-'; write ${option}=VALUE`;
      return `option ${option} takes no value`;
    }
    default: return e.message.split('\n')[0]!;
  }
}

/** The --help text of a command: usage, description, then one line per flag. */
export function helpText(usage: string, description: string, flags: Flags): string {
  const rows = Object.entries(flags).map(([name, spec]) => {
    const left = `  ${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const def = spec.default !== undefined ? ` (default ${spec.default})` : '';
    return `${left.padEnd(24)} ${spec.help}${def}`;
  });
  rows.push(`${'  --help'.padEnd(24)} this help`);
  return `Usage: ${usage}\n\n${description}\n\nOptions:\n${rows.join('\n')}\n`;
}

function flagValue(values: Parsed['values'], name: string): string {
  const v = values[name];
  if (typeof v !== 'string') throw new CliError(`option --${name} needs a value`);
  return v;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function intFlag(values: Parsed['values'], name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = flagValue(values, name);
  const v = Number(text);
  if (!/^[+-]?\d+$/.test(text) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new CliError(`Expected an integer ${range} for --${name} but received '${text}'`);
  }
  return v;
}

/** A number in [min, max) — or [min, max] when maxInclusive. */
export function numberFlag(values: Parsed['values'], name: string, min: number, max: number, what: string): number {
  const text = flagValue(values, name);
  const v = Number(text);
  if (!NUMBER.test(text) || !Number.isFinite(v) || !(v >= min && v <= max)) throw new CliError(`Expected ${what} for --${name} but received '${text}'`);
  return v;
}

export function choiceFlag<T extends string>(values: Parsed['values'], name: string, allowed: readonly T[]): T {
  const text = flagValue(values, name);
  if (!(allowed as readonly string[]).includes(text)) {
    throw new CliError(`Expected one of ${allowed.join(', ')} for --${name} but received '${text}'`);
  }
  return text as T;
}

/** Comma-separated positive integers: '128,64' → [128, 64]; '' → [] (no hidden layer). */
export function sizesFlag(values: Parsed['values'], name: string): number[] {
  const text = flagValue(values, name).trim();
  if (text === '') return [];
  return text.split(',').map((part) => {
    const t = part.trim();
    if (!/^\d+$/.test(t) || Number(t) < 1) {
      throw new CliError(`Expected comma-separated layer sizes ≥ 1 (like 128,64) for --${name} but received '${text}'`);
    }
    return Number(t);
  });
}

/** An input file that must exist and be a file. */
export function inputFile(path: string, what: string): string {
  if (!existsSync(path)) throw new CliError(`${what} '${path}' does not exist`, 1);
  if (!statSync(path).isFile()) throw new CliError(`${what} '${path}' is not a file`, 1);
  return path;
}

/**
 * An output file the command will write at its end: checked at the start, so
 * a long training run does not end in ENOENT and lose its model.
 */
export function outputFile(path: string, flag: string): string {
  if (path === '') throw new CliError(`Expected a file name for ${flag} but received an empty string`);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new CliError(`Expected a file name for ${flag} but received '${path}', a directory`);
  }
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CliError(`Expected a file in an existing directory for ${flag} but received '${path}'`);
  }
  return path;
}
