import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { INSTANCE_SIZES } from '../../spec/instanceSizes.js';
import { parseMemory } from '../../spec/memory.js';
import type { AutomationModel } from '../../spec/schema/automation.js';

type Resources = AutomationModel['action']['build_spec']['resources'];

export interface ResourceRequest {
  cpus?: number;
  memoryMiB?: number;
  gpus?: number;
}

export interface AppliedLimits {
  /** Prefix to run the command with, so the limits apply from its first instruction. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Environment for libraries that size their thread pools themselves (BLAS, OpenMP). */
  env: Record<string, string>;
  /** What is enforced and how, for the build log. */
  description: string[];
  /** The cgroup folders created for it (empty without cgroups), for whoever removes them later. */
  cgroups: string[];
  release(): void;
}

export function resourceRequest(resources: Resources): ResourceRequest {
  if (!resources) return {};
  switch (resources.type) {
    case 'CpuResources':
      return { cpus: resources.cpu_fraction, memoryMiB: mib(resources.memory) };
    case 'GpuResources':
      return { gpus: resources.gpu_amount };
    case 'ClientResources': {
      const size = INSTANCE_SIZES[resources.instance]!;
      return { cpus: size.cpus, memoryMiB: mib(size.memory), gpus: size.gpu?.amount };
    }
  }
}

function mib(memory: string): number {
  const parsed = parseMemory(memory);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.mib;
}

/**
 * Enforces a build's CPU and memory on this host as far as it allows: a cgroup (v2, or v1's cpu and
 * memory controllers) when Refit may create one, else RLIMIT_DATA for memory and a CPU affinity mask
 * for CPUs. GPUs cannot be granted by a local build: that is reported, not faked.
 */
export function applyLimits(name: string, request: ResourceRequest, cgroupRoot = '/sys/fs/cgroup'): AppliedLimits {
  const description: string[] = [];
  const env: Record<string, string> = {};
  const enterFiles: string[] = [];
  const created: string[] = [];
  const prefix: string[] = [];
  if (request.cpus) {
    const threads = String(Math.max(1, Math.ceil(request.cpus)));
    Object.assign(env, { OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads, NUMEXPR_NUM_THREADS: threads });
  }
  const cgroups = cgroupLayout(cgroupRoot);
  if ((request.cpus || request.memoryMiB) && cgroups) {
    const group = (controller: string) => {
      const dir = path.join(controller, 'refit', name);
      mkdirSync(dir, { recursive: true });
      created.push(dir);
      return dir;
    };
    if (cgroups.kind === 'v2') {
      // v2 hands controllers down explicitly: the refit/ parent must enable them for its children.
      mkdirSync(path.join(cgroups.root, 'refit'), { recursive: true });
      writeFileSync(path.join(cgroups.root, 'refit', 'cgroup.subtree_control'), '+memory +cpu');
      const dir = group(cgroups.root);
      if (request.memoryMiB) writeFileSync(path.join(dir, 'memory.max'), String(request.memoryMiB * 1024 * 1024));
      if (request.cpus) writeFileSync(path.join(dir, 'cpu.max'), `${Math.round(request.cpus * 100_000)} 100000`);
      enterFiles.push(path.join(dir, 'cgroup.procs'));
    } else {
      if (request.memoryMiB && cgroups.memory) {
        const dir = group(cgroups.memory);
        writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(request.memoryMiB * 1024 * 1024));
        enterFiles.push(path.join(dir, 'cgroup.procs'));
      }
      if (request.cpus && cgroups.cpu) {
        const dir = group(cgroups.cpu);
        writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '100000');
        writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(request.cpus * 100_000)));
        enterFiles.push(path.join(dir, 'cgroup.procs'));
      }
    }
    if (request.memoryMiB) description.push(`memory limited to ${request.memoryMiB} MiB (cgroup ${cgroups.kind})`);
    if (request.cpus) description.push(`CPU limited to ${request.cpus} core(s) (cgroup ${cgroups.kind} CPU quota)`);
  } else {
    if (request.memoryMiB) {
      prefix.push('prlimit', `--data=${request.memoryMiB * 1024 * 1024}`, '--');
      description.push(`memory limited to ${request.memoryMiB} MiB of data segment (RLIMIT_DATA; no cgroup available)`);
    }
    if (request.cpus) {
      const cores = Math.max(1, Math.ceil(request.cpus));
      prefix.push('taskset', '--cpu-list', `0-${cores - 1}`);
      description.push(`CPU limited to ${cores} core(s) by affinity (no cgroup available)`);
    }
  }
  if (request.gpus) description.push(`${request.gpus} GPU(s) requested: a local build cannot grant GPUs; it runs on CPU`);
  return {
    env,
    description,
    cgroups: created,
    wrap(command, args) {
      if (enterFiles.length) {
        // The shell moves itself into the cgroups, then becomes the command: no instant runs unlimited.
        const enter = enterFiles.map((file) => `echo $$ > ${file}`).join(' && ');
        return { command: '/bin/sh', args: ['-c', `${enter} && exec "$0" "$@"`, command, ...args] };
      }
      return prefix.length ? { command: prefix[0]!, args: [...prefix.slice(1), command, ...args] } : { command, args };
    },
    release() {
      for (const dir of created.reverse()) {
        try {
          rmdirSync(dir);
        } catch {
          // Still has processes (a killed build's children): the kernel frees it when they exit.
        }
      }
    },
  };
}

type CgroupLayout = { kind: 'v2'; root: string } | { kind: 'v1'; memory?: string; cpu?: string };

/** Which cgroup hierarchy this host offers and whether Refit may create groups in it. */
export function cgroupLayout(root = '/sys/fs/cgroup'): CgroupLayout | undefined {
  const writable = (dir: string) => {
    try {
      accessSync(dir, constants.W_OK);
      return existsSync(path.join(dir, 'cgroup.procs'));
    } catch {
      return false;
    }
  };
  if (existsSync(path.join(root, 'cgroup.controllers')) && writable(root)) {
    const enabled = readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8');
    if (/\bmemory\b/.test(enabled) && /\bcpu\b/.test(enabled)) return { kind: 'v2', root };
  }
  const memory = path.join(root, 'memory');
  const cpu = path.join(root, 'cpu');
  const layout: CgroupLayout = { kind: 'v1', memory: writable(memory) ? memory : undefined, cpu: writable(cpu) ? cpu : undefined };
  return layout.memory || layout.cpu ? layout : undefined;
}
