/** A wait that ends after `ms` or when woken, whichever comes first. */
export class Ticker {
  #wake: (() => void) | undefined;
  #woken = false;

  wait(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.#wake = done;
    });
  }

  wake(): void {
    if (this.#wake === undefined) this.#woken = true;
    else this.#wake();
  }
}
