// Engine selection: 'native' (the C++ addon), 'js' (pure TypeScript) or
// 'auto' — native when the addon loads, otherwise the JS engine with a
// one-line warning (once per process).
import type { Engine, EngineName } from './engine';
import { jsEngine } from './engines/js';
import { createNativeEngine } from './engines/native';
import { integer, oneOf } from './validate';

export type EngineChoice = EngineName | 'auto';
export const ENGINE_CHOICES = ['native', 'js', 'auto'] as const;

let native: Engine | undefined;
let fallbackWarned = false;

/** The engine for a choice; throws the addon's load error for 'native' when it cannot load. */
export function getEngine(choice: unknown = 'auto', name = 'engine'): Engine {
  const c = oneOf(name, choice, ENGINE_CHOICES);
  if (c === 'js') return jsEngine;
  if (c === 'native') return (native ??= createNativeEngine());
  try {
    return (native ??= createNativeEngine());
  } catch (e) {
    if (!fallbackWarned) {
      fallbackWarned = true;
      const reason = e instanceof Error ? e.message.split('. ')[0] : String(e);
      process.emitWarning(`${reason}; using the pure-TypeScript engine instead.`, { code: 'FASTMLP_JS_FALLBACK' });
    }
    return jsEngine;
  }
}

/** What backend() reports. */
/** The native kernels (native/core/gemm.h names them, picked by cpuid) or the JS engine. */
export type Isa = 'avx512' | 'avx2' | 'neon' | 'scalar' | 'js';

export interface BackendInfo {
  /** The engine that runs: 'native' (the addon) or 'js'. */
  engine: EngineName;
  /** Kernel instruction set: 'avx512' | 'avx2' | 'neon' | 'scalar' (native) or 'js'. */
  isa: Isa;
  /** Threads the engine's kernels use (setThreads; 1 for the JS engine). */
  threads: number;
  /** fastmlp's version (the addon's, for the native engine). */
  version: string;
}

/** What an engine choice resolves to on this machine (default 'auto'). */
export function backend(engine: EngineChoice = 'auto'): BackendInfo {
  const e = getEngine(engine);
  // The addon reports one of the kernel names of native/core/gemm.h; the JS engine 'js'.
  return { engine: e.name, isa: e.isa as Isa, threads: e.getThreads(), version: e.version };
}

/**
 * Threads the native engine's kernels may use (default: all cores). The JS
 * engine is single-threaded and ignores it.
 */
export function setThreads(n: number): void {
  integer('n', n, 1, 1024);
  jsEngine.setThreads(n);
  try {
    (native ??= createNativeEngine()).setThreads(n);
  } catch {
    // No native engine on this machine: nothing else to configure.
  }
}
