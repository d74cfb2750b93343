/**
 * Group commit: concurrent callers' items are written together, one `write` of many items instead of one
 * statement each, and each caller's promise settles only once its item's write has committed. An idle
 * writer starts at once (a lone request waits for nothing); while a write is in flight, arriving items
 * gather for the next one. So under load each statement carries many rows, and the database round trips
 * per accepted item, which dominate an intake endpoint's cost, fall with the load.
 */
export class GroupCommit<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (err: unknown) => void }[] = [];
  private writing = false;

  /**
   * @param write stores the items and returns one result per item, in order (it must be all or nothing:
   *   on a throw, each item of the failed group is written again on its own, so one bad item fails alone).
   * @param maxItems the most items one write carries.
   */
  constructor(private readonly write: (items: I[]) => Promise<O[]>, private readonly maxItems = 500) {}

  /** Resolves with the item's result once it is written (rejects with the write's error). */
  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.maxItems);
        try {
          const results = await this.write(group.map((g) => g.item));
          group.forEach((g, i) => g.resolve(results[i] as O));
        } catch (err) {
          if (group.length === 1) group[0]!.reject(err);
          else {
            await Promise.all(group.map(async (g) => {
              try {
                g.resolve((await this.write([g.item]))[0] as O);
              } catch (alone) {
                g.reject(alone);
              }
            }));
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
