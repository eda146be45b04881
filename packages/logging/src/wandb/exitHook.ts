/** Something that writes its queued data to disk synchronously. */
export interface ExitWriter {
  onExit: (() => void) | undefined;
  toDiskSync(): void;
}

const writers = new Set<ExitWriter>();
let hooked = false;

function writeAll(): void {
  for (const w of writers) {
    try {
      w.onExit?.();
      w.toDiskSync();
    } catch {
      /* the process is exiting; nothing more can be done */
    }
  }
}

/** Open sessions whose queued lines are written to disk when the process exits (one listener). */
export const onProcessExit = {
  add(w: ExitWriter): void {
    writers.add(w);
    if (!hooked) {
      hooked = true;
      process.on('exit', writeAll);
    }
  },
  delete(w: ExitWriter): void {
    writers.delete(w);
  },
};
