import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, systemNode, tsArgs } from '@x/test-utils';
import { describe, expect, it } from 'vitest';
import { unsupportedNode } from './nodeSupport.js';

describe('unsupportedNode', () => {
  it('accepts the minimum and anything newer, refuses anything older', () => {
    expect(unsupportedNode('22.19.0', '>=22.19')).toBeUndefined();
    expect(unsupportedNode('22.20.1', '>=22.19')).toBeUndefined();
    expect(unsupportedNode('24.0.0', '>=22.19')).toBeUndefined();
    expect(unsupportedNode('22.18.9', '>=22.19')).toMatch(
      /needs Node\.js 22\.19 or newer, this is 22\.18\.9/,
    );
    expect(unsupportedNode('20.20.2', '>=22.19')).toMatch(/this is 20\.20\.2/);
    expect(unsupportedNode('v21.0.0', '>=22.19.1')).toMatch(/22\.19\.1/);
  });

  it("reads the runner's own engines range, which this Node satisfies", () => {
    expect(unsupportedNode(process.versions.node)).toBeUndefined();
    expect(unsupportedNode('20.0.0')).toMatch(/node_modules\/\.bin\/node/);
  });
});

/** A Node.js older than the runner supports on this machine (Debian's, say), if any. */
const old = systemNode((v) => unsupportedNode(v) !== undefined);

describe.skipIf(old === undefined)(`the runner on an old Node (${old ?? 'none found'})`, () => {
  it('refuses at start-up with exit 2 and one line naming both versions', () => {
    const r = spawnSync(
      old as string,
      tsArgs(join(repoRoot, 'apps/runner/src/bin.ts'), ['doctor']),
      {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^runner: needs Node\.js 22\.19 or newer, this is \d+\.\d+\.\d+\./);
  });
});
