// Preloaded (--import) into every job process a queue worker starts: when the worker dies (its
// machine goes, or it is SIGKILLed) the job process is re-parented, notices within half a second
// and kills itself, so a retried job never races an orphan still writing the same files. The check
// runs on its own thread: a job's main thread may compute for minutes without yielding.
import { Worker } from 'node:worker_threads';

const watch = `
const parent = ${process.ppid};
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 500);
`;
new Worker(watch, { eval: true }).unref();
