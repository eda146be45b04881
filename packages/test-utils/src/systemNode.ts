import { spawnSync } from 'node:child_process';

/**
 * A Node.js of the machine's own (`/usr/bin/node`, `/usr/local/bin/node`: Debian's, say, not the
 * one running the tests) whose version `accept` takes, or undefined when there is none.
 */
export function systemNode(accept: (version: string) => boolean): string | undefined {
  for (const bin of ['/usr/bin/node', '/usr/local/bin/node']) {
    const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0 && accept(r.stdout.trim())) return bin;
  }
  return undefined;
}
