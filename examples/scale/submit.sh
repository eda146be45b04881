#!/bin/bash
# Generate an operator dataset on a SLURM cluster: the shard array, then the merge once it succeeded.
set -euo pipefail
cd "$(dirname "$0")"
array=$(sbatch --parsable generate.slurm)
sbatch --dependency="afterok:$array" merge.slurm
