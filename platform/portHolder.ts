// Who listens on a TCP port of this machine, for errors that say who to stop: the socket from /proc/net/tcp{,6}
// and the process holding it from /proc/<pid>/fd. Linux only; elsewhere, or for another user's process, unknown.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface PortHolder {
  pid?: number;
  command?: string;
}

export function portHolder(port: number): PortHolder {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is the 10th field.
      if (fields.length > 9 && fields[3] === '0A' && parseInt(fields[1]!.split(':')[1]!, 16) === port) inodes.add(fields[9]!);
    }
  }
  if (!inodes.size) return {};
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let descriptors: string[];
    try {
      descriptors = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const descriptor of descriptors) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${descriptor}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) {
        let command: string | undefined;
        try {
          command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200);
        } catch {
          command = undefined;
        }
        return { pid: Number(entry), ...(command ? { command } : {}) };
      }
    }
  }
  return {};
}

/** "pid 1234 (temporal server start-dev …)", or "another process" when it cannot be told. */
export function describeHolder(holder: PortHolder): string {
  if (!holder.pid) return 'another process (not one this user may inspect)';
  return `pid ${holder.pid}${holder.command ? ` (${holder.command})` : ''}`;
}
