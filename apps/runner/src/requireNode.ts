// Imported first by bin.ts: refuses an unsupported Node.js before any other module loads (undici
// fails to load on Node 20 with an error that names neither Node nor the runner).
import { unsupportedNode } from './nodeSupport.js';

const why = unsupportedNode(process.versions.node);
if (why !== undefined) {
  process.stderr.write(`runner: ${why}\n`);
  process.exit(2);
}
