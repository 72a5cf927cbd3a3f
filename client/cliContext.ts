// What every `refit` command that talks to Temporal shares: the connection from the standard settings,
// output helpers, and errors turned into messages and exit codes a script can trust.
import yoctoSpinner from 'yocto-spinner';
import { connectClient, temporalSettings } from './connection.js';
import { EXIT, paint } from './output.js';
import { AutomationNotFoundError, RefitClient } from './refitClient.js';

export async function withRefitClient(work: (refit: RefitClient) => Promise<number | void>): Promise<number> {
  const settings = temporalSettings();
  let client;
  try {
    client = await connectClient(settings);
  } catch (err) {
    console.error(`refit: ${(err as Error).message}`);
    return EXIT.unavailable;
  }
  try {
    return (await work(new RefitClient(client, settings.taskQueue))) ?? EXIT.ok;
  } catch (err) {
    if (err instanceof AutomationNotFoundError) {
      console.error(`refit: ${err.message}`);
      return EXIT.failed;
    }
    const message = (err as Error).message ?? String(err);
    if (/no mapping defined for search attribute/.test(message)) {
      console.error(`refit: this Temporal namespace does not know Refit's search attributes; register them once with \`refit setup\`\n(${message})`);
      return EXIT.failed;
    }
    throw err;
  } finally {
    await client.connection.close();
  }
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const visible = (text: string) => text.replace(ANSI, '').length;

/** Cuts a cell to `width` visible characters with "…" (colours are dropped from a cut cell). */
function cut(text: string, width: number): string {
  if (visible(text) <= width) return text;
  return `${text.replace(ANSI, '').slice(0, Math.max(0, width - 1))}…`;
}

/**
 * A kubectl-style table: upper-case headings, columns three spaces apart, no borders. On a terminal it fits the
 * terminal's width, cutting the widest columns first; `wide` (`-o wide`) never cuts.
 */
export function table(head: string[], rows: (string | number)[][], options: { wide?: boolean; width?: number } = {}): string {
  const cells = [head.map((title) => title.toUpperCase()), ...rows.map((row) => row.map((cell) => String(cell).replace(/\n/g, ' ')))];
  const widths = head.map((_, column) => Math.max(...cells.map((row) => visible(row[column] ?? ''))));
  const limit = options.width ?? (process.stdout.isTTY ? process.stdout.columns : undefined);
  if (!options.wide && limit) {
    const gap = 3 * (widths.length - 1);
    while (widths.reduce((sum, width) => sum + width, 0) + gap > limit) {
      const widest = widths.indexOf(Math.max(...widths));
      if (widths[widest]! <= 8) break;
      widths[widest] = widths[widest]! - 1;
    }
  }
  return cells
    .map((row, index) => {
      const line = row.map((cell, column) => {
        const shown = cut(cell, widths[column]!);
        const padded = column === row.length - 1 ? shown : shown + ' '.repeat(widths[column]! - visible(shown));
        return index === 0 ? paint('bold', padded) : padded;
      });
      return line.join('   ').trimEnd();
    })
    .join('\n');
}

/** "3m ago", "in 2h", "just now": how far a time is from now, to the unit that matters. */
export function relativeTime(date: Date | undefined, now = new Date()): string {
  if (!date) return '';
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const size = Math.abs(seconds);
  if (size < 5) return 'just now';
  const [amount, unit] =
    size < 90
      ? [size, 's']
      : size < 90 * 60
        ? [Math.round(size / 60), 'm']
        : size < 36 * 3600
          ? [Math.round(size / 3600), 'h']
          : [Math.round(size / 86400), 'd'];
  return seconds < 0 ? `${amount}${unit} ago` : `in ${amount}${unit}`;
}

/** A spinner on a terminal; off one (CI logs, pipes), a line when a step starts and one when it ends. */
export function progress(text: string) {
  if (!process.stderr.isTTY) {
    console.error(`→ ${text}`);
    return { succeed: (done: string) => console.error(`✔ ${done}`), fail: (done: string) => console.error(`✖ ${done}`) };
  }
  const spinner = yoctoSpinner({ text, stream: process.stderr }).start();
  return { succeed: (done: string) => spinner.success(done), fail: (done: string) => spinner.error(done) };
}

export function when(date: Date | undefined): string {
  return date
    ? date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '';
}
