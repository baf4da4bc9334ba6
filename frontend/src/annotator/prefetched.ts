/**
 * Values loaded ahead of need, by key, a bounded few at a time: the annotator keeps the
 * current image and its neighbours (configuration and decoded bitmap) so that switching
 * to a neighbour waits for nothing. The page says which keys to keep; the others are
 * dropped and disposed of (a bitmap is closed) once their load has finished.
 */

export class Prefetched<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(
    private readonly load: (key: string) => Promise<T>,
    private readonly dispose: (value: T) => void,
  ) {}

  /** The value for ``key``: the one loaded or loading, else a new load. A failed load is
   * forgotten, so that asking again tries again. */
  get(key: string): Promise<T> {
    const known = this.entries.get(key);
    if (known) return known;
    const entry = this.load(key);
    this.entries.set(key, entry);
    entry.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry;
  }

  /** Stores a value that is already at hand (the page's first image). */
  put(key: string, value: T): void {
    this.drop(key);
    this.entries.set(key, Promise.resolve(value));
  }

  /** Drops every key but ``keys`` (nulls are ignored). */
  keepOnly(keys: readonly (string | null)[]): void {
    for (const key of [...this.entries.keys()]) if (!keys.includes(key)) this.drop(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.then(this.dispose, () => undefined);
  }
}
