// Runs one benchmark case in a fresh process and reads back the single JSON
// line it prints. Every failure mode (crash, timeout, missing tool, error
// thrown inside the case) becomes { error } so one bad case cannot end the run.
import { spawnSync } from 'node:child_process';

const MAX_OUTPUT = 16 * 1024 * 1024;

export function runChild(command, argv, { cwd, env = {}, timeoutSec = 300 } = {}) {
  const r = spawnSync(command, argv, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutSec * 1000,
    maxBuffer: MAX_OUTPUT,
  });
  if (r.error) {
    return { error: r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutSec} s` : r.error.message };
  }
  const line = (r.stdout ?? '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  let out;
  try {
    out = line === undefined ? undefined : JSON.parse(line);
  } catch {
    out = undefined;
  }
  if (out && r.status === 0) return out;
  if (out?.error) return { error: out.error };
  if (r.signal) return { error: `crashed (${r.signal})` };
  return { error: errorLine(r.stderr) ?? `exit code ${r.status}` };
}

/** The most telling line of a stderr: the first that names an error, else the last. */
function errorLine(stderr) {
  const lines = (stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /error/i.test(l)) ?? lines.at(-1);
}
