import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { SecretName } from '../../spec/schema/common.js';
import type { SecretStore } from './secretStore.js';

/**
 * Secrets as files in one folder only their owner can read (0700 folder, 0600 files), the way ssh keeps
 * keys. A file that others may read is refused rather than used.
 */
export class LocalSecretStore implements SecretStore {
  readonly description: string;

  constructor(private readonly folder: string) {
    this.description = `local secret store (${folder})`;
  }

  async get(name: string): Promise<string> {
    const file = this.fileOf(name);
    let info;
    try {
      info = await stat(file);
    } catch {
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `secret "${name}" is not in the ${this.description}: add it with \`refit secrets set ${name}\` (the value is read from stdin)`,
      );
    }
    if (info.mode & 0o077) {
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `secret "${name}" is readable by other users (${file}); fix it with \`chmod 600 ${file}\` or set it again with \`refit secrets set ${name}\``,
      );
    }
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  }

  async set(name: string, value: string): Promise<void> {
    const file = this.fileOf(name);
    if (!value) throw new Error(`the value of secret "${name}" is empty`);
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    await chmod(this.folder, 0o700);
    // Written to a temporary file first, so a crash never leaves a half-written secret.
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, value, { mode: 0o600 });
    await rename(temporary, file);
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.folder)).filter((entry) => SecretName.safeParse(entry).success && !entry.endsWith('.tmp')).sort();
    } catch {
      return [];
    }
  }

  async delete(name: string): Promise<boolean> {
    const file = this.fileOf(name);
    try {
      await stat(file);
    } catch {
      return false;
    }
    await rm(file);
    return true;
  }

  private fileOf(name: string): string {
    const parsed = SecretName.safeParse(name);
    if (!parsed.success) throw new Error(`"${name}" is not a secret name: ${parsed.error.issues[0]?.message}`);
    return path.join(this.folder, name);
  }
}
