// A node changes the machine it runs on beyond its own folder: sysctls, a bridge, iptables rules, cgroups,
// a few fixed paths the kubelet and containerd insist on. So one node runs per machine, under a lock, and
// every change is written down before it is made, in the lock's own folder. Whoever stops the node (its
// owner, or the next node to start after an owner was killed) undoes exactly what the record lists.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where the lock and the record live: /run is a tmpfs, so a reboot (which undoes everything anyway) clears them too. */
export const NODE_RUN_DIR = process.env.REFIT_NODE_RUN_DIR || '/run/refit-node';
const RECORD_FILE = 'record.json';

/** Fixed paths the kubelet or containerd create whatever their settings say; removed at teardown if they were not there before. */
export const FIXED_PATHS = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd',
  '/var/lib/cni',
  '/etc/cni',
  '/opt/cni',
  '/var/lib/containerd',
  '/run/netns',
  '/run/nri',
  '/etc/kubernetes',
];

export interface HostRecord {
  owner: { pid: number; startTime: string; purpose: string };
  /** The cluster's own folder (control plane, containerd, kubelet state). */
  dir: string;
  /** Whether the owner removes `dir` at teardown. */
  removeDir: boolean;
  /** Values before the node changed them. */
  sysctls: Record<string, string>;
  /** Paths that did not exist before the node started. */
  createdPaths: string[];
  bridge?: string;
  /** Whether the guard chains (hostNetwork.ts) were made. */
  guarded?: boolean;
  /** The kubelet's cgroupRoot (one folder under each controller's hierarchy). */
  cgroupRoot?: string;
  /** The binaries whose stray processes teardown kills, and kube-proxy, whose --cleanup removes its rules. */
  shimBinary?: string;
  kubeProxyBinary?: string;
  /** Whether kube-proxy and the kubelet ran: only then are there KUBE-* iptables chains to remove. */
  kubeProxyStarted?: boolean;
  kubeletStarted?: boolean;
}

/** The start time of a process (field 22 of /proc/<pid>/stat): with the pid, it tells a live owner from a reused pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function ownerAlive(record: Pick<HostRecord, 'owner'>): boolean {
  return processStartTime(record.owner.pid) === record.owner.startTime;
}

export function readRecord(): HostRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(NODE_RUN_DIR, RECORD_FILE), 'utf8')) as HostRecord;
  } catch {
    return undefined;
  }
}

/** The lock's record, kept on disk as it changes (written to a new file and renamed, so a crash leaves a whole one). */
export class HostChanges {
  constructor(readonly record: HostRecord) {}

  save(): void {
    const file = path.join(NODE_RUN_DIR, RECORD_FILE);
    writeFileSync(`${file}.new`, `${JSON.stringify(this.record, null, 2)}\n`);
    renameSync(`${file}.new`, file);
  }

  update(fields: Partial<HostRecord>): void {
    Object.assign(this.record, fields);
    this.save();
  }

  /** Sets a sysctl (under /proc/sys), having recorded its value from before the node. */
  setSysctl(name: string, value: string): void {
    const file = sysctlFile(name);
    if (!(name in this.record.sysctls)) {
      this.record.sysctls[name] = readFileSync(file, 'utf8').trim();
      this.save();
    }
    writeFileSync(file, value);
  }

  /** Remembers the sysctls the kubelet sets itself, before it starts. */
  recordSysctls(names: string[]): void {
    for (const name of names)
      if (!(name in this.record.sysctls) && existsSync(sysctlFile(name))) this.record.sysctls[name] = readFileSync(sysctlFile(name), 'utf8').trim();
    this.save();
  }

  recordFixedPaths(): void {
    this.record.createdPaths = FIXED_PATHS.filter((file) => !existsSync(file));
    this.save();
  }
}

export function sysctlFile(name: string): string {
  return path.join('/proc/sys', ...name.split('.'));
}

export interface LockOptions {
  dir: string;
  removeDir: boolean;
  purpose: string;
  /** How long to wait for a live owner to let go. */
  waitMs: number;
  /** Undoes what a dead owner's record lists (nodeTeardown), before the lock is taken over. */
  cleanUp: (record: HostRecord) => Promise<string[]>;
  onWait?: (message: string) => void;
}

/** Takes the machine's node lock, cleaning up after an owner that died without doing so. */
export async function takeNodeLock(options: LockOptions): Promise<HostChanges> {
  const deadline = Date.now() + options.waitMs;
  let told = false;
  mkdirSync(path.dirname(NODE_RUN_DIR), { recursive: true });
  for (;;) {
    try {
      mkdirSync(NODE_RUN_DIR, { mode: 0o700 });
      const owner = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', purpose: options.purpose };
      const changes = new HostChanges({ owner, dir: options.dir, removeDir: options.removeDir, sysctls: {}, createdPaths: [] });
      changes.save();
      return changes;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const record = readRecord();
    if (!record) {
      // A lock folder without a record: its owner died between the two, or is writing it right now.
      await sleep(500);
      if (!readRecord()) rmSync(NODE_RUN_DIR, { recursive: true, force: true });
      continue;
    }
    if (!ownerAlive(record)) {
      options.onWait?.(`a node left behind by pid ${record.owner.pid} (${record.owner.purpose}), which is gone: cleaning up after it`);
      const problems = await options.cleanUp(record);
      if (problems.length) throw new Error(`could not clean up after the node of pid ${record.owner.pid}:\n  ${problems.join('\n  ')}`);
      rmSync(NODE_RUN_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `this machine's Kubernetes node is in use by pid ${record.owner.pid} (${record.owner.purpose}); one node runs per machine: stop that first`,
      );
    }
    if (!told) options.onWait?.(`waiting for the node of pid ${record.owner.pid} (${record.owner.purpose}) to stop: one node runs per machine`);
    told = true;
    await sleep(1000);
  }
}

export function releaseNodeLock(): void {
  rmSync(NODE_RUN_DIR, { recursive: true, force: true });
}
