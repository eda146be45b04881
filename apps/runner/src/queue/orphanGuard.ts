// Preloaded (--import) into every job process a queue worker starts: when the worker dies (its
// machine goes, or it is SIGKILLed) the job process is re-parented, notices within half a second
// and kills itself, so a retried job never races an orphan still writing the same files. The check
// runs on its own thread: a job's main thread may compute for minutes without yielding. The
// worker's pid comes in X_QUEUE_WORKER_PID, so a worker that died while this process was still
// starting is noticed too.
import { Worker } from 'node:worker_threads';

const expected = Number(process.env['X_QUEUE_WORKER_PID'] ?? process.ppid);
const watch = `
setInterval(() => {
  if (process.ppid !== ${expected}) process.kill(process.pid, 'SIGKILL');
}, 500);
`;
if (process.ppid !== expected) process.kill(process.pid, 'SIGKILL');
new Worker(watch, { eval: true }).unref();
