import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, installed with apt when missing (never a browser download). As root, as in
 * CI, it installs itself; otherwise it says what to run.
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: run "sudo apt-get install -y chromium"`);
  // apt's progress goes to stderr: on stdout it would be read as part of this test's TAP stream.
  const out = execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  process.stderr.write(out);
}

export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  // The flags keep Chromium from calling Google's services, which this machine's network refuses.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
