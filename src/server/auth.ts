// API-key settings: an empty key is refused (it used to switch auth off silently), and a server
// without a key says so at start-up, loudly when it listens beyond this machine.
import { isIP } from 'node:net';
import { SlmError } from '../errors.ts';

/** Throws for a key that is given but empty or blank (`--api-key ""`, `SLM_API_KEY=`). */
export function checkApiKey(apiKey: string | undefined, source = 'apiKey'): void {
  if (apiKey !== undefined && apiKey.trim() === '') {
    throw new SlmError('INVALID_ARGUMENT', `${source} is empty: give a non-empty key, or leave the option (and SLM_API_KEY) unset to run without authentication`);
  }
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The start-up line(s) about authentication; undefined when a key is set. */
export function authNotice(host: string, apiKey: string | undefined): string | undefined {
  if (apiKey !== undefined) return undefined;
  if (isLoopback(host)) return 'slm serve: authentication is OFF (no --api-key / SLM_API_KEY); only this machine can connect';
  const bar = '!'.repeat(78);
  return [
    bar,
    `!! WARNING: authentication is OFF and the server listens on ${host}:`,
    '!! anyone who can reach this address can use the model. Set --api-key or SLM_API_KEY.',
    bar,
  ].join('\n');
}
