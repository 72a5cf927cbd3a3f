// Confinement for the code of model repositories (their dependency install, tests, build and model server):
// it runs in a bubblewrap sandbox that shows it only the folders it is given, in a process namespace of
// its own (no other process, the worker's included, is visible), as an unprivileged user when the worker
// is root. Outside the sandbox stay the worker's environment, the secret store, Refit's state and other
// builds' folders. The operator can turn it off (REFIT_BUILD_SANDBOX=off), and the build log says so.
import { execFile } from 'node:child_process';
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorTypes, RefitError } from '../../shared/errors.js';

const run = promisify(execFile);

export interface SandboxSettings {
  /** `bubblewrap` (default) confines; `off` runs model code as the worker itself (operator's choice). */
  mode: 'bubblewrap' | 'off';
  /** The user (and group) model code runs as when the worker is root. */
  uid: number;
  gid: number;
  /** The bwrap executable. */
  bwrap: string;
}

export const DEFAULT_SANDBOX_UID = 64_999;

export function sandboxSettingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): SandboxSettings {
  const mode = (env.REFIT_BUILD_SANDBOX || 'bubblewrap').toLowerCase();
  if (mode !== 'bubblewrap' && mode !== 'off') throw new Error(`REFIT_BUILD_SANDBOX must be bubblewrap or off, not "${env.REFIT_BUILD_SANDBOX}"`);
  const id = (name: string, fallback: number) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    if (!/^\d+$/.test(value) || Number(value) === 0) throw new Error(`${name} must be a numeric id other than 0 (root), not "${value}"`);
    return Number(value);
  };
  const uid = id('REFIT_BUILD_UID', DEFAULT_SANDBOX_UID);
  return { mode, uid, gid: id('REFIT_BUILD_GID', uid), bwrap: env.REFIT_BWRAP || 'bwrap' };
}

/** A folder the confined process sees, at the same path as outside. */
export interface SandboxMount {
  path: string;
  writable?: boolean;
}

export interface Sandbox {
  /** One line for the build log: how model code is confined. */
  readonly description: string;
  readonly confined: boolean;
  /**
   * The command line that runs `command` confined, seeing only `mounts` (and the system's programs);
   * `diesWithParent` when the kernel ends it with the process that starts it (unless `keepWithParent`).
   */
  wrap(
    command: string,
    args: string[],
    options: { mounts: SandboxMount[]; cwd: string; keepWithParent?: boolean },
  ): { command: string; args: string[]; diesWithParent: boolean };
  /** Lets the confined user write `dir` (and everything in it). */
  handOver(dir: string): void;
  /** Takes `dir` back from the confined user, so that later confined processes can only read it. */
  takeBack(dir: string): void;
}

/** System folders every confined process needs to run programs; /etc only in the parts programs read. */
const ETC_READ = [
  'alternatives',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'resolv.conf',
  'hosts',
  'nsswitch.conf',
  'host.conf',
  'gai.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'timezone',
  'mime.types',
  'protocols',
  'services',
  'pip.conf',
  'python3',
  'python3.11',
  'fonts',
  'magic',
  'mailcap',
  'os-release',
  'debian_version',
  'lsb-release',
  'issue',
];

/** Whether bubblewrap works, asked once per worker and settings (the answer does not change while it runs). */
const probes = new Map<string, Promise<string | undefined>>();

/**
 * The sandbox these settings give on this host. Throws a RefitError when confinement is asked for and
 * cannot work here (no bubblewrap, no namespaces), saying what the operator can do.
 */
export async function openSandbox(settings: SandboxSettings, workDir: string): Promise<Sandbox> {
  if (settings.mode === 'off') return unconfined();
  const key = JSON.stringify(settings);
  if (!probes.has(key)) probes.set(key, probe(settings));
  const failure = await probes.get(key);
  if (failure) {
    probes.delete(key);
    throw new RefitError(
      ErrorTypes.WorkerSetup,
      `this worker cannot confine model code (${failure}); install bubblewrap (Debian: apt-get install bubblewrap), ` +
        'or, if every model repository this worker builds is trusted, its operator sets REFIT_BUILD_SANDBOX=off',
    );
  }
  return bubblewrap(settings, workDir);
}

function unconfined(): Sandbox {
  return {
    description: 'not confined: model code runs as the worker itself (the worker sets REFIT_BUILD_SANDBOX=off)',
    confined: false,
    wrap: (command, args) => ({ command, args, diesWithParent: false }),
    handOver: () => undefined,
    takeBack: () => undefined,
  };
}

const isRoot = () => process.getuid?.() === 0;

function bubblewrap(settings: SandboxSettings, workDir: string): Sandbox {
  const root = isRoot();
  const identity = writeIdentityFiles(workDir, root ? settings : { uid: process.getuid!(), gid: process.getgid!() });
  return {
    description: root
      ? `confined: a bubblewrap sandbox (own process namespace, only its own folders) as unprivileged user ${settings.uid}`
      : `confined: a bubblewrap sandbox (own user and process namespaces, only its own folders)`,
    confined: true,
    wrap(command, args, options) {
      const bwrap = [
        ...systemMounts(),
        ...identity,
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--perms',
        '1777',
        '--tmpfs',
        '/dev/shm',
        '--perms',
        '1777',
        '--tmpfs',
        '/tmp',
      ];
      bwrap.push(...mountArgs(options.mounts));
      bwrap.push(
        '--unshare-pid',
        '--unshare-ipc',
        '--unshare-uts',
        '--unshare-cgroup-try',
        '--hostname',
        'refit-sandbox',
        '--chdir',
        options.cwd,
        '--setenv',
        'HOME',
        SANDBOX_HOME,
      );
      if (!options.keepWithParent) bwrap.push('--die-with-parent', '--new-session');
      if (!root) bwrap.push('--unshare-user');
      const inner = root
        ? ['/usr/bin/setpriv', `--reuid=${settings.uid}`, `--regid=${settings.gid}`, '--clear-groups', '--', command, ...args]
        : [command, ...args];
      return { command: settings.bwrap, args: [...bwrap, '--', ...inner], diesWithParent: !options.keepWithParent };
    },
    handOver(dir) {
      if (root) chownTree(dir, settings.uid, settings.gid);
    },
    takeBack(dir) {
      if (root) chownTree(dir, 0, 0);
    },
  };
}

/**
 * Files and folders the inherited settings name (pip's find-links folder and certificates, TLS trust
 * stores): the operator gave them to builds, so a confined process sees them too, read-only.
 */
export function settingsMounts(env: Record<string, string>): SandboxMount[] {
  const mounts: SandboxMount[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (!/^(PIP_\w+|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|GIT_SSL_CAINFO)$/.test(key)) continue;
    for (const entry of value.split(/\s+/)) {
      const file = entry.replace(/^file:\/\//, '');
      if (path.isAbsolute(file) && existsSync(file) && !mounts.some((mount) => mount.path === file)) mounts.push({ path: file });
    }
  }
  return mounts;
}

/** HOME inside: the sandbox's own /tmp, gone when it ends. */
export const SANDBOX_HOME = '/tmp';

/**
 * The folders, parents first, each at its own path. The folders above them are made inside as plain
 * 0755 folders (bubblewrap would make them 0700, closed to the unprivileged user), showing nothing else.
 */
function mountArgs(mounts: SandboxMount[]): string[] {
  const sorted = [...mounts].sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  const made = new Set(['/', '/tmp', '/usr', '/etc', '/proc', '/dev']);
  const args: string[] = [];
  for (const mount of sorted) {
    const parents: string[] = [];
    for (let parent = path.dirname(mount.path); !made.has(parent); parent = path.dirname(parent)) parents.unshift(parent);
    for (const parent of parents) {
      args.push('--perms', '0755', '--dir', parent);
      made.add(parent);
    }
    args.push(mount.writable ? '--bind' : '--ro-bind', mount.path, mount.path);
    made.add(mount.path);
  }
  return args;
}

function systemMounts(): string[] {
  const args: string[] = ['--ro-bind', '/usr', '/usr'];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const where = `/${name}`;
    if (!existsSync(where)) continue;
    const info = lstatSync(where);
    // Merged /usr (Debian 12): /bin is a link into /usr, made again inside.
    if (info.isSymbolicLink()) args.push('--symlink', `usr/${name}`, where);
    else args.push('--ro-bind', where, where);
  }
  args.push('--perms', '0755', '--dir', '/etc');
  for (const name of ETC_READ) if (existsSync(`/etc/${name}`)) args.push('--ro-bind', `/etc/${name}`, `/etc/${name}`);
  return args;
}

/** /etc/passwd and /etc/group that know the sandbox's user (some libraries ask for its name), and no one else. */
function writeIdentityFiles(workDir: string, ids: { uid: number; gid: number }): string[] {
  mkdirSync(workDir, { recursive: true });
  const passwd = path.join(workDir, 'passwd');
  const group = path.join(workDir, 'group');
  writeFileSync(passwd, `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nrefit-build:x:${ids.uid}:${ids.gid}:Refit build:/tmp/home:/bin/sh\n`, { mode: 0o644 });
  writeFileSync(group, `root:x:0:\nrefit-build:x:${ids.gid}:\n`, { mode: 0o644 });
  return ['--ro-bind', passwd, '/etc/passwd', '--ro-bind', group, '/etc/group'];
}

function chownTree(dir: string, uid: number, gid: number): void {
  if (!existsSync(dir)) return;
  const walk = (entry: string) => {
    lchownSync(entry, uid, gid);
    if (lstatSync(entry).isDirectory()) for (const child of readdirSync(entry)) walk(path.join(entry, child));
  };
  walk(dir);
}

/** Why bubblewrap cannot run here, or undefined when it can. */
async function probe(settings: SandboxSettings): Promise<string | undefined> {
  const dir = path.join(os.tmpdir(), `refit-sandbox-probe-${process.pid}`);
  const sandbox = bubblewrap(settings, dir);
  const { command, args } = sandbox.wrap('/bin/true', [], { mounts: [], cwd: '/' });
  try {
    await run(command, args, { timeout: 30_000 });
    return undefined;
  } catch (err) {
    const failure = err as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') return `${settings.bwrap} is not installed`;
    return `${settings.bwrap} failed: ${(failure.stderr ?? failure.message).trim().split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
