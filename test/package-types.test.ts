// The package's types as a TypeScript user meets them: the README's examples
// (test/fixtures/consumer) type-check against `import ... from 'fastmlp'` in a
// project of their own — node_modules/fastmlp a link to this package, so
// resolution goes through package.json's `types`/`exports` to dist/*.d.ts as
// after `npm install` — with strict settings and skipLibCheck off, under every
// moduleResolution a project may use. Also: no @internal member in the
// published declarations, inferred types a user re-exports can be named, and
// the main API carries the JSDoc an editor shows on hover. Needs dist/ (tsc),
// which `npm test` builds first.
import { cpSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const fixtures = path.join(__dirname, 'fixtures', 'consumer');
let project: string;

beforeAll(() => {
  project = mkdtempSync(path.join(os.tmpdir(), 'fastmlp-consumer-'));
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  mkdirSync(path.join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(root, path.join(project, 'node_modules', 'fastmlp'), 'dir');
  symlinkSync(path.join(root, 'node_modules', '@types', 'node'), path.join(project, 'node_modules', '@types', 'node'), 'dir');
  cpSync(fixtures, path.join(project, 'src'), { recursive: true });
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

const strict: ts.CompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  skipLibCheck: false,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
};

function src(...names: string[]): string[] {
  return names.map((n) => path.join(project, 'src', n));
}

function readmeFiles(): string[] {
  return src(...readdirSync(fixtures).filter((f) => f.startsWith('readme-')));
}

// Parsed declaration files (lib, @types/node, dist) are shared by the programs
// below, keyed by the module format TypeScript implies for them: parsing them
// once instead of per moduleResolution keeps this file's run short.
const parsed = new Map<string, ts.SourceFile | undefined>();

function program(files: string[], options: ts.CompilerOptions): ts.Program {
  const all = { ...strict, ...options };
  const host = ts.createCompilerHost(all);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, shouldCreate) => {
    const format = typeof language === 'object' ? language.impliedNodeFormat : undefined;
    const key = `${format}:${fileName}`;
    if (!parsed.has(key)) parsed.set(key, getSourceFile(fileName, language, onError, shouldCreate));
    return parsed.get(key);
  };
  return ts.createProgram(files, all, host);
}

function errors(diagnostics: readonly ts.Diagnostic[]): string[] {
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${path.relative(project, d.file.fileName)}:${line + 1}: TS${d.code} ${text}`;
  });
}

/**
 * What `tsc` reports with skipLibCheck off, for the user's files and fastmlp's
 * declarations; @types/node and TypeScript's lib files are not ours to check
 * (and checking them in every program would take most of this file's time).
 */
function typeErrors(files: string[], options: ts.CompilerOptions): string[] {
  const p = program(files, options);
  const dist = [path.join(root, 'dist') + path.sep, path.join(project, 'node_modules', 'fastmlp', 'dist') + path.sep];
  const ours = p.getSourceFiles().filter((f) => files.includes(f.fileName) || dist.some((d) => f.fileName.startsWith(d)));
  expect(ours.filter((f) => !files.includes(f.fileName)).length).toBeGreaterThan(10);  // fastmlp's .d.ts were read
  return errors([
    ...p.getOptionsDiagnostics(), ...p.getGlobalDiagnostics(),
    ...ours.flatMap((f) => [...p.getSyntacticDiagnostics(f), ...p.getSemanticDiagnostics(f)]),
  ]);
}

describe('the published types', () => {
  it('carry no @internal member', () => {
    const leaks: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.d.ts') && readFileSync(p, 'utf8').includes('@internal')) leaks.push(path.relative(root, p));
      }
    };
    walk(path.join(root, 'dist'));
    expect(leaks).toEqual([]);
  });

  it('type-check the README examples under moduleResolution nodenext (ESM and CommonJS users)', () => {
    const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
    expect(typeErrors([...readmeFiles(), ...src('cjs.cts')], options)).toEqual([]);
  });

  it('type-check them under node16', () => {
    const options = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
    expect(typeErrors([...readmeFiles(), ...src('cjs.cts')], options)).toEqual([]);
  });

  it('type-check them under bundler', () => {
    const options = { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler };
    expect(typeErrors(readmeFiles(), options)).toEqual([]);
  });

  it('type-check them under node10 (package.json "types", no exports map)', () => {
    const options = { module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Node10 };
    expect(typeErrors(readmeFiles(), options)).toEqual([]);
  });

  it('give number, not number | undefined, for what fit always logs (noUncheckedIndexedAccess)', () => {
    const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noUncheckedIndexedAccess: true };
    expect(typeErrors(src('strictest.mts'), options)).toEqual([]);
  });
  it('let a user export what they infer from them (declaration emit names every type through fastmlp)', () => {
    const p = program(src('reexport.mts'), {
      module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: false, declaration: true, emitDeclarationOnly: true,
    });
    const file = p.getSourceFile(src('reexport.mts')[0]!)!;
    const emitted: string[] = [];
    // That file only: emit(undefined) would type-check every file, @types/node included.
    const result = p.emit(file, (_name, text) => { emitted.push(text); });
    expect(errors([...p.getSemanticDiagnostics(file), ...result.diagnostics])).toEqual([]);
    expect(emitted.join('')).toContain("import(\"fastmlp\")");
    expect(emitted.join('')).not.toMatch(/fastmlp\/dist/);
  });
  it('carry the JSDoc an editor shows on hover for the main API', () => {
    // Names as a user reaches them: 'Class', 'Class#member', 'Class.static', 'namespace.name', 'Interface#member'.
    const main = [
      'Sequential', 'Sequential#compile', 'Sequential#fit', 'Sequential#predict', 'Sequential#predictAsync', 'Sequential#evaluate',
      'Sequential#evaluateAsync', 'Sequential#trainStep', 'Sequential#getWeights', 'Sequential#setWeights', 'Sequential#save',
      'Sequential#toBuffer', 'Sequential#toJSON', 'Sequential#dispose', 'Sequential#summary', 'Sequential#layers',
      'Sequential#paramCount', 'Sequential#engine', 'Sequential#stopTraining', 'Sequential#train', 'Sequential#eval',
      'Sequential.load', 'Sequential.fromBuffer', 'Sequential.fromJSON',
      'SequentialOptions#engine', 'SequentialOptions#seed', 'SequentialOptions#dtype',
      'CompileOptions#loss', 'CompileOptions#optimizer', 'CompileOptions#metrics',
      ...['epochs', 'batchSize', 'shuffle', 'validationSplit', 'validationData', 'verbose', 'callbacks', 'initialEpoch',
        'classWeight', 'onEpochEnd', 'signal'].map((m) => `FitOptions#${m}`),
      'History#epoch', 'History#history', 'History#params', 'EpochLogs#loss', 'BatchLogs#loss',
      'Dense', 'DenseOptions#activation', 'DenseOptions#weightInit', 'DenseOptions#biasInit', 'DenseOptions#kernelRegularizer',
      'Activation', 'Dropout', 'BatchNorm1d', 'LayerNorm', 'PReLU',
      'Matrix', 'Matrix#rows', 'Matrix#cols', 'Matrix#data', 'Matrix#dtype', 'Matrix#get', 'Matrix#set', 'Matrix#toArray', 'Matrix.zeros',
      'backend', 'setThreads', 'BackendInfo#engine', 'BackendInfo#isa', 'BackendInfo#threads', 'BackendInfo#version',
      'AbortError', 'AbortError#code', 'AbortError#history',
      'ops.matmul', 'losses.create',
      'callbacks.earlyStopping', 'callbacks.modelCheckpoint', 'optim.Adam', 'optim.SGD',
    ];
    const p = program(src('readme-tour.mts'), { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
    const checker = p.getTypeChecker();
    const entry = p.getSourceFiles().find((f) => f.fileName.endsWith(`${path.sep}dist${path.sep}index.d.ts`))!;
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(entry)!);
    const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
    const find = (symbols: readonly ts.Symbol[], name: string) => symbols.find((s) => s.name === name);
    const lookup = (name: string): ts.Symbol | undefined => {
      const [, head, sep, member] = /^([\w.]+?)(?:([#.])(\w+))?$/.exec(name)!;
      let owner = find(exports, head!);
      if (owner && sep === '.' && resolve(owner).flags & ts.SymbolFlags.Module) {
        const inner = find(checker.getExportsOfModule(resolve(owner)), member!);
        return inner && resolve(inner);
      }
      if (!owner || !sep) return owner && resolve(owner);
      owner = resolve(owner);
      const type = sep === '#' ? checker.getDeclaredTypeOfSymbol(owner) : checker.getTypeOfSymbol(owner);
      return type.getProperty(member!);
    };
    const undocumented = main.filter((name) => {
      const symbol = lookup(name);
      return !symbol || ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === '';
    });
    expect(undocumented).toEqual([]);
  });
});
