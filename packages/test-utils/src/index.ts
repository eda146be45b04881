export { PYTHON, pythonHas, runPython } from './python.js';
export { evalTs, repoRoot, runTs, spawnTs, tsArgs, tsEvalArgs, tsxLoader } from './tsChild.js';
export type { ChildResult, RunOptions } from './tsChild.js';
export { startFakeWandb } from './fakeWandb.js';
export { systemNode } from './systemNode.js';
export type { FakeRun, FakeWandb, Fault, RecordedRequest } from './fakeWandb.js';
export type { FakeArtifact, FakeArtifactPut, FakeArtifactStore } from './fakeWandbArtifacts.js';
