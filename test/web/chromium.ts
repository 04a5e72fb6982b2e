// Debian's headless Chromium for the browser tests, driven by playwright-core with the system
// executable (playwright's own browser downloads cannot work offline). Tests skip with this
// message where there is no Chromium.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.SLMKIT_CHROMIUM ?? '/usr/bin/chromium';
export const NO_CHROMIUM = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set SLMKIT_CHROMIUM)`;

/** A fresh profile (empty OPFS), closed and removed by `close`. */
export async function launch(): Promise<{ context: BrowserContext; page: Page; logs: string[]; close: () => Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'slmkit-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1000, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    logs,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Clicks Generate and waits until the page is ready for the next one. */
export async function generateInPage(page: Page, timeout = 120_000): Promise<void> {
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') === 'done' && !(document.querySelector('#generate') as HTMLButtonElement).disabled, undefined, { timeout });
}

export async function gotoReady(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
}
