// `fastmlp train --target` when a column name is itself a number (a year, a
// code): a header name that exists wins, an integer that names no column is a
// position, and --target-index is always a position. The choice shows in the
// data line, and a note names the other reading when both exist and differ.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINES } from './helpers';
import { fastmlp, tempDir, type Run } from './cli-helpers';

function oneLineError(r: Run, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe.each(ENGINES)('fastmlp train --target / --target-index (%s engine)', (engine) => {
  const dir = tempDir();
  // Columns: id, 2019, 2020, 2 — '2020' and '2' are names; 2 is also a position ('2020').
  const rows = Array.from({ length: 60 }, (_, i) => `${i},${(i * 3) % 17}.5,${(i * 7) % 13}.25,${i % 3}`);
  writeFileSync(join(dir, 'years.csv'), ['id,2019,2020,2', ...rows].join('\n') + '\n');
  writeFileSync(join(dir, 'plain.csv'), rows.join('\n') + '\n');
  const train = (...args: string[]) => fastmlp(['train', 'years.csv', ...args, '--epochs', '1', '--engine', engine, '--out', 'm.safetensors'], dir);
  const dataLine = (r: Run) => {
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.split('\n')[0];
  };

  it('a name that exists wins over a position', () => {
    const byName = train('--target', '2020');
    expect(dataLine(byName)).toBe("data: years.csv: 60 rows, 3 features, target '2020' (regression)");
    expect(byName.stdout).not.toMatch(/^note:/m);   // position 2020 does not exist: nothing to point out
    const info = fastmlp(['info', 'm.safetensors'], dir);
    expect(info.stdout).toMatch(/target: 2020/);
    expect(info.stdout).toMatch(/columns: \["id","2019","2"\]/);

    const named2 = train('--target', '2');
    expect(dataLine(named2)).toBe("data: years.csv: 60 rows, 3 features, target '2' (3 classes)");
    expect(named2.stdout).toMatch(/^note: --target 2 is the column named '2' \(index 3\); --target-index 2 would be '2020'$/m);
  });

  it('an integer that names no column is a position; --target-index is always one', () => {
    expect(dataLine(train('--target', '1'))).toMatch(/target '2019' \(regression\)/);
    expect(dataLine(train('--target-index', '2'))).toMatch(/target '2020' \(regression\)/);
    expect(dataLine(train('--target-index=-1'))).toMatch(/target '2' \(3 classes\)/);
    expect(dataLine(train())).toMatch(/target '2' \(3 classes\)/);   // default: the last column
    // Without a header there are no names: --target is a position.
    const plain = fastmlp(['train', 'plain.csv', '--no-header', '--target', '2', '--epochs', '1', '--engine', engine, '--out', 'p.safetensors'], dir);
    expect(dataLine(plain)).toMatch(/target '2' \(regression\)/);
  });

  it('bad or conflicting flags are one-line usage errors naming the flag', () => {
    oneLineError(train('--target', '2020', '--target-index', '1'), /Expected --target or --target-index but received both/);
    oneLineError(train('--target-index', '9'), /Expected an integer in \[-4, 3\] for --target-index but received 9/);
    oneLineError(train('--target-index', 'x'), /for --target-index but received 'x'/);
    oneLineError(train('--target', '9'), /Expected an integer in \[-4, 3\] for --target but received 9/);
    oneLineError(train('--target', '2021'), /for --target but received 2021/);
  });

  it('--help documents the rule', () => {
    const help = fastmlp(['train', '--help'], dir).stdout;
    expect(help).toMatch(/--target COL .*a name wins/);
    expect(help).toMatch(/--target-index N .*by position only/);
  });
});
