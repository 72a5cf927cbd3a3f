import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { SecretName } from '../../spec/schema/common.js';
import { NO_SCOPE, type SecretScope } from './secretScope.js';
import type { SecretStore } from './secretStore.js';

/** Scopes live beside the values, in a folder whose name cannot be a secret's. */
const SCOPES = '.scopes';

/**
 * Secrets as files in one folder only their owner can read (0700 folder, 0600 files), the way ssh keeps
 * keys; each one's scope in .scopes/<name>.json. A file that others may read is refused rather than used.
 */
export class LocalSecretStore implements SecretStore {
  readonly description: string;

  constructor(private readonly folder: string) {
    this.description = `local secret store (${folder})`;
  }

  async read(name: string): Promise<{ value: string; scope: SecretScope }> {
    const value = await this.get(name);
    return { value, scope: await this.scopeOf(name) };
  }

  /** The value alone, unchecked: for the store's own tests and tools. */
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

  async set(name: string, value: string, scope?: SecretScope): Promise<void> {
    const file = this.fileOf(name);
    if (!value) throw new Error(`the value of secret "${name}" is empty`);
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    await chmod(this.folder, 0o700);
    await writeAtomically(file, value);
    if (scope) await this.setScope(name, scope);
  }

  async setScope(name: string, scope: SecretScope): Promise<void> {
    await stat(this.fileOf(name)).catch(() => {
      throw new RefitError(ErrorTypes.SecretNotFound, `secret "${name}" is not in the ${this.description}: add it with \`refit secrets set ${name}\``);
    });
    await mkdir(path.join(this.folder, SCOPES), { recursive: true, mode: 0o700 });
    await writeAtomically(this.scopeFileOf(name), JSON.stringify({ hosts: [...scope.hosts], automations: [...scope.automations] }));
  }

  async scopeOf(name: string): Promise<SecretScope> {
    try {
      const stored = JSON.parse(await readFile(this.scopeFileOf(name), 'utf8')) as Partial<SecretScope>;
      return { hosts: stringsOf(stored.hosts), automations: stringsOf(stored.automations) };
    } catch {
      return NO_SCOPE;
    }
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
    await rm(this.scopeFileOf(name), { force: true });
    return true;
  }

  private scopeFileOf(name: string): string {
    return path.join(this.folder, SCOPES, `${path.basename(this.fileOf(name))}.json`);
  }

  private fileOf(name: string): string {
    const parsed = SecretName.safeParse(name);
    if (!parsed.success) throw new Error(`"${name}" is not a secret name: ${parsed.error.issues[0]?.message}`);
    return path.join(this.folder, name);
  }
}

/** Written to a temporary file first, so a crash never leaves a half-written secret or scope. */
async function writeAtomically(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, file);
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
