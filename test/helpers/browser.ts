import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.WPS_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Whether the browser tests can run: Debian's chromium, which scripts/test-deps.sh
 * installs. In CI a missing one fails the suite; elsewhere its tests are skipped.
 */
export function chromiumAvailable(): boolean {
  const ok = existsSync(CHROMIUM);
  if (!ok && process.env.CI) throw new Error(`${CHROMIUM} is missing (scripts/test-deps.sh installs Debian's chromium)`);
  if (!ok) console.warn(`skipping browser tests: ${CHROMIUM} is missing (scripts/test-deps.sh installs it)`);
  return ok;
}

/**
 * Headless Chromium (with a new profile of Playwright's making) and none of its
 * background traffic: this machine has no network beyond loopback.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
