// `fastmlp info model.safetensors`: what a model file holds — layers,
// parameters, dtype, compile options and the user metadata — after checking
// that it loads (checksum, shapes).
import { readModelInfo } from '../io/model-file';
import { Sequential } from '../sequential';
import { CliError, helpText, inputFile, parseCommand, type Flags } from './args';

export const INFO_FLAGS: Flags = {};

export const INFO_HELP = helpText('fastmlp info model.safetensors',
  'Prints the architecture, parameter count, dtype, compile options (loss, optimizer, metrics)\n' +
  'and metadata (class names, columns…) of a fastmlp model file, after loading it in full.', INFO_FLAGS);

export async function info(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const { values, positionals } = parseCommand('info', argv, INFO_FLAGS, 1);
  if (values['help']) { out.write(INFO_HELP); return; }
  if (positionals.length < 1) throw new CliError('fastmlp info needs a model file (see fastmlp info --help)');
  const path = inputFile(positionals[0]!, 'model file');
  const meta = await readModelInfo(path);
  const model = await Sequential.load(path, { engine: 'js' });  // loading checks checksum and shapes
  const lines = [
    `file: ${path} (fastmlp model format ${meta.version}, safetensors)`,
    `dtype: ${model.dtype}, seed ${model.seed}, ${model.inputSize} inputs → ${model.outputSize} outputs`,
    model.summary().split('\n').filter((l) => !l.startsWith('Total')).join('\n'),
    `parameters: ${model.paramCount}`,
    `tensors: ${meta.tensors.map((t) => `${t.name} [${t.shape.join('×')}]`).join(', ')}`,
  ];
  if (meta.compile) {
    const { loss, optimizer, metrics } = meta.compile;
    lines.push(`compile: loss ${JSON.stringify(loss)}, optimizer ${JSON.stringify(optimizer)}, metrics [${metrics.join(', ')}]`);
  } else {
    lines.push('compile: none stored');
  }
  if (meta.optimizerSteps !== null) lines.push(`optimizer state: ${meta.optimizerSteps} steps`);
  const entries = Object.entries(meta.metadata);
  lines.push(entries.length === 0 ? 'metadata: none' : 'metadata:');
  for (const [k, v] of entries) lines.push(`  ${k}: ${v.length > 100 ? `${v.slice(0, 97)}… (${v.length} characters)` : v}`);
  out.write(lines.join('\n') + '\n');
}
