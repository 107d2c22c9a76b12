// Every class of bad input to the fastmlp command gives ONE line on stderr,
// naming what was wrong, and a non-zero exit code — never a stack trace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINES } from './helpers';
import { fastmlp, tempDir, writeBlobsCsv, type Run } from './cli-helpers';

function expectOneLineError(r: Run, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^fastmlp: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe.each(ENGINES)('fastmlp bad input (%s engine)', (engine) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'ragged.csv'), 'a,b,c\n1,2,3\n4,5\n6,7,8\n');
  writeFileSync(join(dir, 'text-cell.csv'), 'a,b,c\n1,2,3\n4,oops,5\n6,7,8\n');
  writeFileSync(join(dir, 'empty.csv'), '');
  writeBlobsCsv(join(dir, 'blobs.csv'), 60);
  const train = (...args: string[]) => fastmlp(['train', ...args, '--engine', engine], dir);

  it('unknown flag', () => {
    expectOneLineError(train('--epoch', '3'), /unknown option --epoch \(see fastmlp train --help\)/);
    expectOneLineError(fastmlp(['info', '--verbose', 'm.safetensors'], dir), /unknown option --verbose/);
  });

  it('bad numbers and choices name the flag and the value', () => {
    expectOneLineError(train('--epochs', 'ten'), /Expected an integer ≥ 1 for --epochs but received 'ten'/);
    expectOneLineError(train('--epochs', '0'), /for --epochs but received '0'/);
    expectOneLineError(train('--lr=-0.1'), /Expected a learning rate > 0 for --lr but received '-0.1'/);
    expectOneLineError(train('--lr', '-0.1'), /option --lr is followed by a value starting with '-'; write --lr=VALUE/);
    expectOneLineError(train('--no-header=yes'), /option --no-header takes no value/);
    expectOneLineError(train('--batch-size', '3.5'), /--batch-size but received '3.5'/);
    expectOneLineError(train('--val-split', '1.5'), /fraction in \[0, 1\) for --val-split/);
    expectOneLineError(train('--val-split', '0.6', '--test-split', '0.5'), /--val-split \+ --test-split below 1/);
    expectOneLineError(train('--layers', '64,x'), /layer sizes .* for --layers but received '64,x'/);
    expectOneLineError(train('--activation', 'relux'), /Expected one of relu, .* for --activation but received 'relux'/);
    expectOneLineError(fastmlp(['train', '--engine', 'gpu'], dir), /for --engine but received 'gpu'/);
    expectOneLineError(fastmlp(['train', '--engine', engine, '--epochs'], dir), /option --epochs needs a value/);
  });

  it('missing files', () => {
    expectOneLineError(train('nope.csv'), /data file 'nope.csv' does not exist/);
    expectOneLineError(fastmlp(['predict', 'nope.safetensors', 'blobs.csv', '--engine', engine], dir), /model file 'nope.safetensors' does not exist/);
    expectOneLineError(fastmlp(['info', 'nope.safetensors'], dir), /model file 'nope.safetensors' does not exist/);
    expectOneLineError(fastmlp(['predict', 'blobs.csv'], dir), /needs a model file and a CSV file/);
  });

  it('bad CSVs: ragged rows, a non-numeric cell, an empty file', () => {
    expectOneLineError(train('ragged.csv'), /Expected 3 cells in row 2 \(line 3\) .* but received 2/);
    expectOneLineError(train('text-cell.csv'), /Expected a number in row 2 \(line 3\), column 'b' \(index 1\) but received 'oops'/);
    // A text column (a city, a colour) is a common first stumble: the line says what to do.
    writeFileSync(join(dir, 'city.csv'), 'size,city,price\n50,Paris,3\n70,Lyon,4\n');
    expectOneLineError(train('city.csv', '--target', 'price'),
      /column 'city' \(index 1\) but received 'Paris'.*feature columns must hold numbers: drop column 'city' or encode it \(one-hot\)/);
    expectOneLineError(train('empty.csv'), /at least one row/);
  });

  it('unknown target column, and a target that does not suit the loss', () => {
    const unknown = train('blobs.csv', '--target', 'colour');
    expectOneLineError(unknown, /Expected a column named 'colour' for --target but the columns are 'x', 'y', 'z', 'color'/);
    const outOfRange = train('blobs.csv', '--target', '9');
    expectOneLineError(outOfRange, /Expected an integer in \[-4, 3\] for --target but received 9/);
    expect([unknown.code, outOfRange.code]).toEqual([2, 2]);   // usage errors, as every other bad flag
    expectOneLineError(train('blobs.csv', '--target', 'color', '--loss', 'mse'), /text labels .* regression needs numbers/);
  });

  it('predict: a CSV that does not fit the model, a damaged model file', () => {
    expect(train('blobs.csv', '--target', 'color', '--epochs', '1', '--out', 'b.safetensors').code).toBe(0);
    writeFileSync(join(dir, 'wide.csv'), 'p,q,r,s,t\n1,2,3,4,5\n');
    expectOneLineError(fastmlp(['predict', 'b.safetensors', 'wide.csv', '--engine', engine], dir), /has 5 columns but the model takes 3/);
    writeFileSync(join(dir, 'junk.safetensors'), 'this is not a model file at all');
    expectOneLineError(fastmlp(['predict', 'junk.safetensors', 'blobs.csv', '--engine', engine], dir), /not a valid model file/);
    expectOneLineError(fastmlp(['info', 'junk.safetensors'], dir), /not a valid model file/);
  });

  it('an --out that cannot be written fails before training, and the curves never overwrite the model', () => {
    const before = (r: Run) => expect(r.stdout).not.toMatch(/epoch 1/);   // refused before any epoch ran
    let r = train('blobs.csv', '--epochs', '1', '--out', join('no-such-dir', 'm.safetensors'));
    expectOneLineError(r, /Expected a file in an existing directory for --out but received 'no-such-dir\/m.safetensors'/);
    before(r);
    r = train('blobs.csv', '--epochs', '1', '--out', '.');
    expectOneLineError(r, /Expected a file name for --out but received '.', a directory/);
    before(r);
    expectOneLineError(train('blobs.csv', '--lr', '1e400'), /Expected a learning rate > 0 for --lr but received '1e400'/);
    // '--out m.svg': the SVG used to replace the model file just written, leaving only the curves.
    r = train('blobs.csv', '--epochs', '1', '--out', 'curves-clash.svg');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/saved curves-clash.svg and curves-clash.svg.svg/);
    const info = fastmlp(['info', 'curves-clash.svg'], dir);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/parameters: /);
    expectOneLineError(fastmlp(['predict', 'curves-clash.svg', 'blobs.csv', '--out', join('no-such-dir', 'p.csv'), '--engine', engine], dir),
      /Expected a file in an existing directory for --out but received 'no-such-dir\/p.csv'/);
  });

  it('unknown command, extra arguments', () => {
    expectOneLineError(fastmlp(['fit'], dir), /unknown command 'fit'/);
    expectOneLineError(train('a.csv', 'b.csv'), /at most 1 file argument/);
    expectOneLineError(fastmlp(['bench', 'extra'], dir), /at most 0 file argument/);
  });
});
