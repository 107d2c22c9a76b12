// What each engine resolves to on this machine, probed in a child process so
// the runner itself never loads fastmlp (and fails clearly when dist/ is missing).
import { backend } from 'fastmlp';
import { runCase } from './harness.mjs';

runCase(() => {
  const probe = (engine) => {
    try {
      return backend(engine);
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  };
  return { native: probe('native'), js: probe('js') };
});
