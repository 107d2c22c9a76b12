// modelCheckpoint's filepath template, as Keras's ModelCheckpoint documents it:
// `{name}` or `{name:spec}` placeholders filled with `epoch` (1-based) and the
// epoch's logs, e.g. 'weights.{epoch:02d}-{val_loss:.2f}.safetensors'. The
// specs are the part of Python's format mini-language such names use
// (docs.python.org "Format Specification Mini-Language"): an optional 0 flag
// and width, then `d`, `.Nf`/`f` or `.Ne`/`e`; `{{` and `}}` are literal
// braces. Anything else is refused when the callback is created, rather than
// written into the file name.
import { ArgumentRangeError } from './validate';

interface Literal { text: string }
interface Placeholder { name: string; zero: boolean; width: number; precision: number | null; type: '' | 'd' | 'f' | 'e'; raw: string }
type Part = Literal | Placeholder;

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;
const SPEC = /^(0?)(\d*)(?:\.(\d+))?([dfe]?)$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function refuse(template: string, why: string): ArgumentRangeError {
  return new ArgumentRangeError(`Expected a path whose placeholders are {name} or {name:spec} (spec: 0-padded width and d, .Nf or .Ne) ` +
    `for filepath but received '${template}' (${why})`);
}

/** Parses a filepath template; throws a RangeError naming filepath for what it cannot format. */
export function parseCheckpointPath(template: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(TOKEN)) {
    if (m.index! > last) parts.push({ text: template.slice(last, m.index) });
    last = m.index! + m[0].length;
    if (m[0] === '{{' || m[0] === '}}') { parts.push({ text: m[0][0]! }); continue; }
    if (m[1] === undefined) throw refuse(template, `an unmatched '${m[0]}'`);
    const colon = m[1].indexOf(':');
    const name = colon < 0 ? m[1] : m[1].slice(0, colon);
    const spec = colon < 0 ? '' : m[1].slice(colon + 1);
    if (!NAME.test(name)) throw refuse(template, `'${name}' is not a log name`);
    const s = SPEC.exec(spec);
    if (!s || (s[3] !== undefined && s[4] === '') || (s[3] !== undefined && s[4] === 'd')) {
      throw refuse(template, `'${spec}' is not a format it knows`);
    }
    parts.push({ name, zero: s[1] === '0', width: s[2] ? Number(s[2]) : 0,
      precision: s[3] === undefined ? null : Number(s[3]), type: s[4] as Placeholder['type'], raw: m[0] });
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  return parts;
}

function formatValue(p: Placeholder, value: number, template: string): string {
  let text: string;
  if (p.type === 'd') {
    if (!Number.isInteger(value)) throw new ArgumentRangeError(`Expected an integer for ${p.raw} in filepath '${template}' but received ${value}`);
    text = String(value);
  } else if (p.type === 'f') {
    text = value.toFixed(p.precision ?? 6);
  } else if (p.type === 'e') {
    // Python writes at least two exponent digits (1.50e-03); JavaScript one (1.50e-3).
    text = value.toExponential(p.precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
  } else {
    text = String(value);
  }
  if (text.length >= p.width) return text;
  if (!p.zero) return text.padStart(p.width, ' ');
  const sign = text.startsWith('-') ? '-' : '';
  return sign + text.slice(sign.length).padStart(p.width - sign.length, '0');
}

/** The path for one epoch (0-based; written 1-based, as Keras) from its logs. */
export function formatCheckpointPath(template: string, parts: readonly Part[], epoch: number, logs: Record<string, number>): string {
  return parts.map((p) => {
    if ('text' in p) return p.text;
    const value = p.name === 'epoch' ? epoch + 1 : logs[p.name];
    if (value === undefined) {
      throw new ArgumentRangeError(`Expected log names in the placeholders of filepath '${template}' but received '${p.name}', ` +
        `which is not in the epoch logs (epoch, ${Object.keys(logs).join(', ')})`);
    }
    return formatValue(p, value, template);
  }).join('');
}
