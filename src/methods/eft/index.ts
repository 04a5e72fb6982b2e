export { CombinedSession, type EftTerm } from './combined-session.ts';
