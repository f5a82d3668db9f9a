/**
 * Test helper: opens a report in headless Chromium (Debian's `chromium`, driven by
 * playwright-core), collects console errors, evaluates a function in the page and saves a
 * screenshot under out/screenshots/. `chromiumPath()` is undefined when no browser is installed
 * (tests then skip, saying so; `npm test` installs it with tools/install-browser.sh).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./cli.js";

const CANDIDATES = [
  process.env.PATHLENS_CHROMIUM,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];

/** The Chromium executable, if any. */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p));
}

/** What {@link openReport} saw. */
export interface PageVisit<T> {
  consoleErrors: string[];
  result: T;
  screenshot: string;
}

/** Loads `file` (no network: every request but the file itself is refused) and runs `probe` in it. */
export async function openReport<T>(file: string, probe: () => T, name: string): Promise<PageVisit<T>> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("no Chromium found (run tools/install-browser.sh)");
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    const url = pathToFileURL(file).href;
    await page.route("**/*", (route) => (route.request().url() === url ? route.continue() : route.abort()));
    await page.goto(url);
    const result = (await page.evaluate(probe)) as T;
    const dir = join(ROOT, "out", "screenshots");
    mkdirSync(dir, { recursive: true });
    const screenshot = join(dir, `${name}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    return { consoleErrors, result, screenshot };
  } finally {
    await browser.close();
  }
}
