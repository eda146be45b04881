// The state digest's canonical encoding lives in @x/core (one definition); the checkpoint code
// hashes its parts on worker threads and while tensors are read.
export { stateDigestParts as digestParts } from '@x/core';
