// The Hugging Face Hub client: `slm pull`, the shared cache, and `org/name` model arguments.
export { hubConfig, parseRepoRef, looksLikeRepoId, hfHome, type HubConfig, type RepoRef } from './config.ts';
export { HubError, type HubErrorReason } from './errors.ts';
export { pull, cachedSnapshot, type PullOptions, type PullResult, type PullProgress } from './snapshot.ts';
export { listCachedRepos, removeCachedRepo, repoDir, type CachedRepo } from './cache-layout.ts';
export { resolveModelReference } from './resolve.ts';
