// fit's private copies of the caller's arrays (x, a dense y, validationData's),
// and the memory under them, which a model keeps from one fit to the next.
//
// Why keep it: fit copies x synchronously at the call (the caller may change
// or transfer x once fit has returned its promise), and into fresh memory that
// copy costs mostly page faults — the kernel maps and zeroes each 4 KiB page
// on first write — not the copying: 60,000 × 784 float32 rows (188 MB) took
// ~85 ms into fresh memory and ~18 ms into pages already written, one thread,
// on the project's 2-vCPU VM (native/binding/data_block.cc copyData). A service
// that retrains one model every few minutes on data of about the same size
// then copies into pages already mapped.
//
// The trade-off: between fits the model holds as much memory as its last
// fit's copies (at most twice what they needed, below), until dispose(), its
// collection, or a fit that needs less than half of it. Before, that memory
// was garbage once fit settled. SequentialOptions.reuseFitMemory: false gives
// that back: every fit then copies into fresh memory, freed after it.
import type { Engine, FloatArray } from './engine';

/** A kept block is reused only by a copy that needs at least this fraction of it: a much smaller fit frees it. */
const MIN_USE_OF_BLOCK = 0.5;

export class FitMemory {
  /** Whole blocks from the last fit, free for the next. */
  private kept: FloatArray[] = [];
  /** Whole blocks under the copies of the fit that began last (its lease, from beginFit). */
  private lent: FloatArray[] = [];
  /** dispose(): nothing is kept any more, not even by a fit that settles later. */
  private released = false;
  /**
   * Per block's buffer, the bytes from its start that the last copy into it
   * wrote and the engine found finite (Engine.copyData's answer). Only copy()
   * writes a block, so this describes its contents until the next copy.
   */
  private readonly finiteBytes = new WeakMap<ArrayBufferLike, number>();

  constructor(private readonly engine: Engine, private readonly reuse: boolean) {}

  /**
   * A private copy of data for the running fit, over a kept block of data's
   * type when one holds it without wasting more than half of itself, or fresh
   * memory from Engine.allocData (the native engine's epochs read either in
   * place). The copy is Engine.copyData (the native engine's runs on its
   * thread pool). The memory stays the fit's until endFit() with its lease.
   */
  copy<A extends FloatArray>(data: A): A {
    const block = this.take(data) ?? this.engine.allocData(data instanceof Float64Array ? 'float64' : 'float32', data.length);
    this.lent.push(block);
    // A view of the block's front: the rest holds nothing of this fit and is never read.
    const view = (block.length === data.length ? block : block.subarray(0, data.length)) as A;
    this.finiteBytes.delete(block.buffer);  // its contents change now
    const nonFinite = this.engine.copyData(view, data);
    if (nonFinite === false) this.finiteBytes.set(block.buffer, view.byteLength);
    return view;
  }

  /**
   * True when data lies within a copy made here that the engine, as it
   * copied, found free of NaN and ±Infinity (the native engine tests the
   * values in the copy's own pass: data_block.cc copyData). Then fit's
   * chunked check of its copies (lib/fit-input.ts) needs no second read of
   * them: 60,000 × 784 float32 rows took 21–25 ms of main-thread time in
   * chunks. False when unknown (the JS engine does not test as it copies,
   * a copy that holds a non-finite value, data not from here): the caller
   * checks as before.
   */
  knownFinite(data: FloatArray): boolean {
    const finite = this.finiteBytes.get(data.buffer);
    return finite !== undefined && data.byteOffset + data.byteLength <= finite;
  }

  /** Runs one fit between beginFit and endFit: its copies' blocks are kept once it has settled. */
  async during<T>(fit: () => Promise<T>): Promise<T> {
    const lease = this.beginFit();
    let failed = true;
    try {
      const result = await fit();
      failed = false;
      return result;
    } finally {
      this.endFit(lease, failed);
    }
  }

  /**
   * A fit begins: copy() lends it blocks from now until endFit(lease) with the
   * lease returned here. A lease per fit, not one list for all: Sequential
   * marks a fit idle before its promise settles, so the next fit may begin
   * (and copy) in those last microtasks, before the previous one's endFit.
   */
  private beginFit(): readonly FloatArray[] {
    this.lent = [];
    return this.lent;
  }

  /**
   * The fit of `lease` is over (settled, its epochs finished): nothing reads
   * its copies any more. Keeps their blocks for the next fit (unless reuse is
   * off or the model was disposed) and drops the blocks it did not use; the
   * blocks of a fit that began since are that fit's, not kept. A fit that
   * failed before copying anything (refused arguments, a bad first chunk of a
   * stream) leaves the kept blocks as they were: a mistyped option does not
   * cost the next fit its memory. One that completed without copies (a
   * streamed source) needs none, so the kept blocks go.
   */
  private endFit(lease: readonly FloatArray[], failed: boolean): void {
    if (this.lent === lease) this.lent = [];
    if (this.released || (failed && lease.length === 0)) return;
    this.kept = this.reuse ? [...lease] : [];
  }

  /** Drops every block (dispose): the memory goes when the engine's last reader lets go. */
  release(): void {
    this.released = true;
    this.kept = [];
    this.lent = [];
  }

  /** Bytes held between fits, for tests and the README's figures (not counting blocks a running fit uses). */
  get keptBytes(): number {
    return this.kept.reduce((sum, b) => sum + b.byteLength, 0);
  }

  /** Removes and returns the smallest kept block of data's type that holds it and that it uses at least half of. */
  private take(data: FloatArray): FloatArray | null {
    let best = -1;
    this.kept.forEach((b, i) => {
      // The element type, not the constructor: x may be a subclass of Float32Array (toMatrix keeps it).
      const sameType = (b instanceof Float64Array) === (data instanceof Float64Array);
      const fits = sameType && b.length >= data.length && data.length >= b.length * MIN_USE_OF_BLOCK;
      if (fits && (best < 0 || b.length < this.kept[best]!.length)) best = i;
    });
    return best < 0 ? null : this.kept.splice(best, 1)[0]!;
  }
}
