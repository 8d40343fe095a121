// Shared checks come from @qdeploy/core/testing; these names are what the tests import.
export { maxRelativeError, randomInput, repoRoot, runModel } from '@qdeploy/core/testing';
export { repoFixture as vendored, sharedFixture as shared } from '@qdeploy/core/testing';
