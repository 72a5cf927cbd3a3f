// Undoing a node: what its host record lists, in an order where each step can succeed. It runs when the node's
// owner stops it, and when the next node starts after an owner that was killed; every step is a no-op when
// already done, and teardown reports what it could not undo instead of stopping at the first problem.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { NODE_RUN_DIR, sysctlFile, type HostRecord } from './hostRecord.js';
import { chainExists, GUARD_CHAINS, kubernetesChains, removeKubernetesChains, tearDownNetwork } from './hostNetwork.js';

const run = promisify(execFile);
const CGROUP_MOUNT = '/sys/fs/cgroup';

/** The cgroup folders of the node's pods under every hierarchy (cgroup v1 controllers, or the v2 tree), deepest first. */
export function nodeCgroups(cgroupRoot: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) walk(path.join(dir, entry.name));
    found.push(dir);
  };
  // Some systems link co-mounted controllers (cpu and cpuacct) to one folder: each hierarchy once.
  const hierarchies = existsSync(path.join(CGROUP_MOUNT, 'cgroup.controllers'))
    ? [CGROUP_MOUNT]
    : [...new Set(readdirSync(CGROUP_MOUNT).map((name) => realpathSync(path.join(CGROUP_MOUNT, name))))];
  for (const hierarchy of hierarchies) if (existsSync(path.join(hierarchy, cgroupRoot))) walk(path.join(hierarchy, cgroupRoot));
  return found;
}

function processesIn(cgroup: string): number[] {
  for (const file of ['cgroup.procs', 'tasks']) {
    try {
      return readFileSync(path.join(cgroup, file), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      // v2 folders have no `tasks`; a folder may go away while we look.
    }
  }
  return [];
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Processes whose executable is `binary` (containerd's shims outlive containerd by design). */
export function processesOf(binary: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`).replace(/ \(deleted\)$/, '') === binary) pids.push(Number(entry));
    } catch {
      // Not ours to look at, or it ended.
    }
  }
  return pids;
}

/** Mount points at or under any of `roots`, deepest first. */
export function mountsUnder(roots: string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    // Field 5 is the mount point, with spaces and such octal-escaped.
    .map((line) => line.split(' ')[4]!.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => roots.some((root) => point === root || point.startsWith(`${root}/`)));
  return [...new Set(points)].sort((a, b) => b.split('/').length - a.split('/').length);
}

async function unmount(point: string): Promise<string | undefined> {
  try {
    await run('umount', [point]);
  } catch {
    try {
      await run('umount', ['--lazy', point]);
    } catch (err) {
      return `could not unmount ${point}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`;
    }
  }
  return undefined;
}

export interface TeardownOptions {
  /** Also remove the record's folder (when its record says so). */
  removeDir?: boolean;
  /** The node's run folder, whose mounts (network namespaces) go too: NODE_RUN_DIR but in the teardown test. */
  runDir?: string;
}

/** Undoes everything the record lists; returns what it could not undo (empty: the machine is as before). */
export async function tearDownNode(record: HostRecord, options: TeardownOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  // 1. The pods' processes (every container, the pause ones included), until the cgroups are empty.
  if (record.cgroupRoot) {
    for (let round = 0; round < 50; round++) {
      const pids = nodeCgroups(record.cgroupRoot).flatMap(processesIn);
      if (!pids.length) break;
      pids.forEach(kill);
      await sleep(100);
    }
  }
  // 2. The shims, which containerd leaves running by design.
  if (record.shimBinary) {
    for (let round = 0; round < 20; round++) {
      const pids = processesOf(record.shimBinary);
      if (!pids.length) break;
      pids.forEach(kill);
      await sleep(100);
    }
  }
  // 3. Mounts: containers' root filesystems, network namespaces, volumes.
  for (const point of mountsUnder([record.dir, options.runDir ?? NODE_RUN_DIR])) {
    const problem = await unmount(point);
    if (problem) problems.push(problem);
  }
  // 4. The network: kube-proxy's rules, the guard chain, the bridge (with it, any veth left on it).
  if (record.kubeProxyStarted && record.kubeProxyBinary && existsSync(record.kubeProxyBinary)) {
    await run(record.kubeProxyBinary, ['--cleanup'], { timeout: 60_000 }).catch((err: { stderr?: string; message: string }) => {
      // It exits non-zero when some mode (nftables, ipvs) was never in use: what matters is that its chains are gone.
      void err;
    });
  }
  if (record.kubeletStarted) problems.push(...(await removeKubernetesChains()));
  problems.push(...(await tearDownNetwork(record.bridge, record.guarded)));
  // 5. The pods' cgroups, now empty, deepest first.
  if (record.cgroupRoot) {
    for (const cgroup of nodeCgroups(record.cgroupRoot)) {
      try {
        rmdirSync(cgroup);
      } catch (err) {
        problems.push(`could not remove the cgroup ${cgroup}: ${(err as Error).message}`);
      }
    }
  }
  // 6. Sysctls back to what they were.
  for (const [name, value] of Object.entries(record.sysctls)) {
    try {
      if (readFileSync(sysctlFile(name), 'utf8').trim() !== value) writeFileSync(sysctlFile(name), value);
    } catch (err) {
      problems.push(`could not restore the sysctl ${name}=${value}: ${(err as Error).message}`);
    }
  }
  // 7. Fixed paths the node created, and its folder: only once nothing is mounted under them.
  const removable = [...record.createdPaths, ...((options.removeDir ?? record.removeDir) ? [record.dir] : [])];
  for (const file of removable) {
    if (!existsSync(file)) continue;
    const mounted = mountsUnder([file]);
    if (mounted.length) {
      problems.push(`left ${file} in place: ${mounted.length} mount(s) under it remain (${mounted[0]})`);
      continue;
    }
    try {
      rmSync(file, { recursive: true, force: true });
    } catch (err) {
      problems.push(`could not remove ${file}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** What of a node is still on this machine: for checks after teardown (tests, the demo). */
export async function nodeLeftovers(record: HostRecord, options: Pick<TeardownOptions, 'runDir'> = {}): Promise<string[]> {
  const left: string[] = [];
  if (record.cgroupRoot) {
    const cgroups = nodeCgroups(record.cgroupRoot);
    if (cgroups.length) left.push(`${cgroups.length} cgroup(s) under ${record.cgroupRoot}`);
  }
  if (record.shimBinary && processesOf(record.shimBinary).length) left.push(`containerd shims running (${processesOf(record.shimBinary).join(', ')})`);
  const mounts = mountsUnder([record.dir, options.runDir ?? NODE_RUN_DIR]);
  if (mounts.length) left.push(`${mounts.length} mount(s), e.g. ${mounts[0]}`);
  if (record.bridge) {
    const links = await run('ip', ['link', 'show', 'dev', record.bridge]).then(
      () => true,
      () => false,
    );
    if (links) left.push(`the network interface ${record.bridge}`);
  }
  if (record.guarded) for (const chain of Object.values(GUARD_CHAINS)) if (await chainExists(chain)) left.push(`the iptables chain ${chain}`);
  const chains = record.kubeletStarted || record.kubeProxyStarted ? await kubernetesChains() : [];
  if (chains.length) left.push(`${chains.length} KUBE-* iptables chain(s), e.g. ${chains[0]}`);
  for (const file of record.createdPaths) if (existsSync(file)) left.push(file);
  return left;
}
