// One value a Durable Object keeps in memory and in its storage under one key (a session's or a
// principal context's apps state: upstream sessions, exchanged tokens, catalog). Loaded on first
// use; written back only when its JSON differs from what was last stored, so a call that changed
// nothing costs no storage write.
export class StoredValue<T> {
  #value: T | undefined;
  /** The value as last written (JSON). */
  #stored: string | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly key: string,
    private readonly empty: () => T,
  ) {}

  /** The in-memory copy, or undefined before the first load(). */
  get current(): T | undefined {
    return this.#value;
  }

  async load(): Promise<T> {
    if (this.#value === undefined) {
      this.#value = (await this.storage.get<T>(this.key)) ?? this.empty();
      this.#stored = JSON.stringify(this.#value);
    }
    return this.#value;
  }

  /** Writes the value when it differs from what is stored. */
  async persist(): Promise<void> {
    if (this.#value === undefined) return;
    const json = JSON.stringify(this.#value);
    if (json === this.#stored) return;
    this.#stored = json;
    await this.storage.put(this.key, this.#value);
  }

  /** Drops the in-memory copy (after the object's storage was deleted). */
  forget(): void {
    this.#value = undefined;
    this.#stored = undefined;
  }
}
