// What every `refit` command that talks to Temporal shares: the connection from the standard settings,
// output helpers, and errors turned into messages and exit codes a script can trust.
import Table from 'cli-table3';
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

export function table(head: string[], rows: (string | number)[][]): string {
  const output = new Table({ head: head.map((title) => paint('bold', title)), style: { head: [], border: [] } });
  output.push(...rows.map((row) => row.map(String)));
  return output.toString();
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
