// Masks secret values in text that arrives in pieces (a process's output), so that a value split across two
// pieces is still caught: whole lines are masked and passed on at once, and of a line still being written
// only what cannot be the start of a secret is passed on.
import type { ChildProcess } from 'node:child_process';

export const MASK = '***';

/** Every secret value replaced by ***, longest first (so a secret that contains another is masked whole). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of [...secrets].filter(Boolean).sort((a, b) => b.length - a.length)) masked = masked.split(secret).join(MASK);
  return masked;
}

export class SecretMask {
  private pending = '';

  constructor(private readonly secrets: readonly string[]) {}

  /** Takes the next piece; returns the masked text that is safe to pass on now. */
  push(piece: string): string {
    this.pending += piece;
    const newline = this.pending.lastIndexOf('\n');
    if (newline === -1) return this.pending.length > 64 * 1024 ? this.flushIdle() : '';
    const complete = this.pending.slice(0, newline + 1);
    this.pending = this.pending.slice(newline + 1);
    return maskSecrets(complete, this.secrets);
  }

  /**
   * What can go out of a line left unfinished for a while (a progress bar): all but an ending that
   * could be the start of a secret still to come.
   */
  flushIdle(): string {
    let cut = this.pending.length - this.possibleSecretStart();
    if (cut <= 0) return '';
    // Never cut through a whole secret that is already there: cut before it.
    for (let moved = true; moved;) {
      moved = false;
      for (const secret of this.secrets) {
        for (let at = this.pending.indexOf(secret); at !== -1 && at < cut; at = this.pending.indexOf(secret, at + 1)) {
          if (at + secret.length > cut) {
            cut = at;
            moved = true;
          }
        }
      }
    }
    const out = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return maskSecrets(out, this.secrets);
  }

  /** How many characters at the end of what is pending are the beginning of some secret. */
  private possibleSecretStart(): number {
    let longest = 0;
    for (const secret of this.secrets) {
      for (let length = Math.min(secret.length - 1, this.pending.length); length > longest; length--) {
        if (this.pending.endsWith(secret.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }

  /** The rest, masked, once no more pieces will come. */
  end(): string {
    const rest = maskSecrets(this.pending, this.secrets);
    this.pending = '';
    return rest;
  }
}

/**
 * Sends what a child prints (its piped stdout and stderr) through a mask to `write`: whole lines at once,
 * an unfinished line's safe part once a second, the rest when its pipes close.
 */
export function maskOutputOf(child: ChildProcess, secrets: readonly string[], write: (text: string) => void): void {
  const mask = new SecretMask(secrets);
  const pass = (text: string) => text && write(text);
  child.stdout!.on('data', (chunk: Buffer) => pass(mask.push(chunk.toString('utf8'))));
  child.stderr!.on('data', (chunk: Buffer) => pass(mask.push(chunk.toString('utf8'))));
  const idle = setInterval(() => pass(mask.flushIdle()), 1_000).unref();
  child.on('error', () => clearInterval(idle));
  child.on('close', () => {
    clearInterval(idle);
    pass(mask.end());
  });
}
