import { initBackend } from '@x/tensor';
import {
  extractFamily,
  generateDataset,
  resolveDatasetConfig,
  verifyDataset,
} from '@x/operator-replay';

await initBackend('cpu'); // recorded in the file; replay needs the same backend
const config = resolveDatasetConfig({
  rootSeed: 1,
  timesteps: 4,
  realizations: 2,
  parameters: { grid_size: { kind: 'choice', options: [12] } }, // small, to run in seconds
});
await generateDataset({ config, total: 4, out: 'ops.h5' }); // whole dataset
await generateDataset({ config, total: 4, out: 'p1.h5', shard: { index: 1, count: 2 } });
await verifyDataset('ops.h5'); // throws XError INTEGRITY naming operators
await extractFamily('ops.h5', 'temporal', { onProgress: (d, n) => console.log(d, n) });
