// Browser tests: bundle a TypeScript entry for the browser and run it in Debian's headless
// chromium (driven by playwright-core; no downloaded browser build).
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { type Browser, type Page, chromium } from 'playwright-core';

/** Debian's chromium package, which `.ci/run` installs. */
export const CHROMIUM = '/usr/bin/chromium';

/** QGRAIN_SKIP_BROWSER=1 skips the browser tests (on machines without chromium). */
export const SKIP_BROWSER = process.env['QGRAIN_SKIP_BROWSER'] === '1';

/**
 * Bundles `entry` into one browser script (IIFE, or one ES module with `format: 'esm'`, for a
 * page that loads it by URL). `alias` maps package names to source files, so a test runs the code
 * under test rather than a stale build; esbuild resolves everything else with the "browser"
 * export condition, as a user's bundler would.
 */
export async function bundleForBrowser(
  entry: string,
  alias: Record<string, string> = {},
  format: 'iife' | 'esm' = 'iife',
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format,
    platform: 'browser',
    target: 'es2022',
    alias,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** The flags every browser test launches chromium with: headless, no sandbox, no background traffic. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Launches Debian's headless chromium with {@link CHROMIUM_ARGS}; the caller closes it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: install it with \`apt-get install -y chromium\`, or set QGRAIN_SKIP_BROWSER=1 to skip browser tests`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
}

/**
 * Runs `script` in a fresh headless chromium page and returns what the page's global `name`
 * (a value or a promise) resolves to, with every uncaught page error. `prepare` can route
 * requests before the script runs (e.g. to serve .wasm files from node_modules).
 */
export async function runInChromium<T>(
  script: string,
  name: string,
  prepare?: (page: Page) => Promise<unknown>,
): Promise<{ value: T; errors: string[] }> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await prepare?.(page);
    await page.setContent('<!doctype html><title>qgrain browser test</title>');
    await page.addScriptTag({ content: script });
    const value = (await page.evaluate(
      (global) => (globalThis as Record<string, unknown>)[global],
      name,
    )) as T;
    return { value, errors };
  } finally {
    await browser.close();
  }
}
