// Preloaded (--import) into every job process a queue worker starts: when the worker dies (its
// machine goes, or it is SIGKILLed) the job process is re-parented, notices within half a second
// and kills itself, so a retried job never races an orphan still writing the same files.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 500).unref();
