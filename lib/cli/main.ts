// The fastmlp command line: dispatch to train / predict / info / bench, and the
// one error path — any failure is ONE line on stderr and a non-zero exit code
// (2 for usage errors, 1 for everything else), never a stack trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './args';
import { bench } from './bench';
import { info } from './info';
import { predict } from './predict';
import { train } from './train';

const TOP_HELP = `Usage: fastmlp <command> [options]

Train and run multilayer perceptrons from the command line.

Commands:
  train [data.csv]                  train an MLP on a CSV (default: the bundled digits) and save it
  predict model.safetensors data.csv  one label or value per row
  info model.safetensors            architecture, parameters, dtype, compile options, metadata
  bench                             native vs JavaScript engine, samples/s

Options:
  --help      this help (or: fastmlp <command> --help)
  --version   the fastmlp version

Example: fastmlp train data.csv --target species --layers 64,32 --epochs 50 --out iris.safetensors
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout,
                           err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train': await train(rest, out); return 0;
      case 'predict': await predict(rest, out, err); return 0;
      case 'info': await info(rest, out); return 0;
      case 'bench': await bench(rest, out); return 0;
      case '--version': case '-v': out.write(`fastmlp ${version()}\n`); return 0;
      case undefined: case '--help': case '-h': case 'help': out.write(TOP_HELP); return command === undefined ? 2 : 0;
      default: throw new CliError(`unknown command '${command}' (commands: train, predict, info, bench; see fastmlp --help)`);
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    err.write(`fastmlp: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (process.env['FASTMLP_DEBUG'] && e instanceof Error) err.write(`${e.stack}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
