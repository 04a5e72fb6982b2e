export { CombinedSession, type EftTerm } from './combined-session.ts';
export { loadEft, EftModel, type EftPair } from './load-eft.ts';
