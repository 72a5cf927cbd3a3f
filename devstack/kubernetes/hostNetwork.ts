// The node's pod network: a Linux bridge on a private /24 that nothing on this machine uses, the node's own
// address on it, and two filter chains: one keeps pods' forwarded traffic on the bridge, the other refuses
// pods' new connections to this machine itself (answers to the kubelet's probes and to clients pass, as do
// the ports a server for pods is opened on with allowPodsToReach). Pods get no default route (containerd.ts
// gives them only the Service range), so they reach each other and Services, never another machine, and no
// server of this machine that listens on all interfaces. Everything here is recorded in the host record
// before it is made (hostRecord.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { HostChanges } from './hostRecord.js';

const run = promisify(execFile);

export const BRIDGE = 'refit0';
/** Filter chains, each jumped to from the built-in chain it is named after. */
export const GUARD_CHAINS = { FORWARD: 'REFIT-NODE-FORWARD', INPUT: 'REFIT-NODE-INPUT' } as const;
const POD_RANGES = ['10.244.0.0/24', '10.245.0.0/24', '10.246.0.0/24', '172.31.244.0/24'];
const SERVICE_RANGES = ['10.96.0.0/24', '10.97.0.0/24', '10.98.0.0/24', '172.31.245.0/24'];

export interface NodeNetwork {
  bridge: string;
  podCidr: string;
  /** The node's address on the bridge (the pods' gateway): the kubelet, kube-proxy and servers for pods listen here. */
  nodeAddress: string;
  serviceCidr: string;
}

interface Cidr {
  base: number;
  bits: number;
}

function parseCidr(text: string): Cidr {
  const [address, bits] = text.split('/');
  const octets = address!.split('.').map(Number);
  if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet) || octet < 0 || octet > 255)) throw new Error(`${text} is not an IPv4 CIDR`);
  const prefix = bits === undefined ? 32 : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`${text} is not an IPv4 CIDR`);
  const value = octets.reduce((sum, octet) => sum * 256 + octet, 0);
  const size = 2 ** (32 - prefix);
  return { base: value - (value % size), bits: prefix };
}

export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const xEnd = x.base + 2 ** (32 - x.bits);
  const yEnd = y.base + 2 ** (32 - y.bits);
  return x.base < yEnd && y.base < xEnd;
}

/** The IPv4 networks this machine has: its addresses' subnets and its routes (the default route aside). */
export async function usedNetworks(): Promise<string[]> {
  const [addresses, routes] = await Promise.all([run('ip', ['-j', '-4', 'addr', 'show']), run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])]);
  const used: string[] = [];
  for (const link of JSON.parse(addresses.stdout) as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]) {
    // Our own bridge, left by a node that is being replaced, does not count.
    if (link.ifname === BRIDGE) continue;
    for (const address of link.addr_info ?? []) used.push(`${address.local}/${address.prefixlen}`);
  }
  for (const route of JSON.parse(routes.stdout) as { dst: string; dev?: string; type?: string }[]) {
    if (route.dst === 'default' || route.dev === BRIDGE || route.type === 'broadcast' || route.type === 'local') continue;
    used.push(route.dst.includes('/') ? route.dst : `${route.dst}/32`);
  }
  return used;
}

/** A pod and a Service range free on this machine (REFIT_NODE_POD_CIDR / REFIT_NODE_SERVICE_CIDR, checked, else the first free candidates). */
export async function chooseNetwork(env: NodeJS.ProcessEnv = process.env): Promise<NodeNetwork> {
  const used = await usedNetworks();
  const pick = (wanted: string | undefined, candidates: string[], what: string, taken: string[]): string => {
    if (wanted) {
      if (parseCidr(wanted).bits > 28) throw new Error(`${what} ${wanted} is too small: give a /28 or larger`);
      const clash = taken.find((network) => overlaps(network, wanted));
      if (clash) throw new Error(`${what} ${wanted} overlaps ${clash}, which this machine already uses: choose another private range`);
      return wanted;
    }
    const free = candidates.find((candidate) => !taken.some((network) => overlaps(network, candidate)));
    if (!free) throw new Error(`every candidate ${what} (${candidates.join(', ')}) overlaps a network of this machine: set one that is free`);
    return free;
  };
  const podCidr = pick(env.REFIT_NODE_POD_CIDR, POD_RANGES, 'pod range (REFIT_NODE_POD_CIDR)', used);
  const serviceCidr = pick(env.REFIT_NODE_SERVICE_CIDR, SERVICE_RANGES, 'Service range (REFIT_NODE_SERVICE_CIDR)', [...used, podCidr]);
  const { base } = parseCidr(podCidr);
  const nodeAddress = [24, 16, 8, 0].map((shift) => Math.floor((base + 1) / 2 ** shift) % 256).join('.');
  return { bridge: BRIDGE, podCidr, nodeAddress, serviceCidr };
}

async function tool(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args)).stdout;
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`${command} ${args.join(' ')} failed: ${detail}`, { cause: err });
  }
}

/** The bridge with the node's address, forwarding on for pods' Service traffic, and the guard chains. */
export async function setUpNetwork(network: NodeNetwork, changes: HostChanges): Promise<void> {
  changes.update({ bridge: network.bridge, guarded: true });
  const prefix = network.podCidr.split('/')[1];
  await tool('ip', ['link', 'add', network.bridge, 'type', 'bridge']);
  await tool('ip', ['addr', 'add', `${network.nodeAddress}/${prefix}`, 'dev', network.bridge]);
  await tool('ip', ['link', 'set', network.bridge, 'up']);
  // This machine's own requests to a ClusterIP go onto the bridge too: kube-proxy's rules turn them into pod
  // addresses, and until they do (or for a Service with no endpoints) they stay here rather than follow the
  // default route to whatever answers that address on the machine's network. The route goes with the bridge.
  await tool('ip', ['route', 'add', network.serviceCidr, 'dev', network.bridge, 'src', network.nodeAddress]);
  // A pod's request to a ClusterIP is routed to the node and back onto the bridge: forwarding, on this bridge
  // only (the guard drops the rest); the bridge netfilter hook lets kube-proxy's rules see pod-to-pod replies.
  changes.setSysctl('net.ipv4.ip_forward', '1');
  try {
    changes.setSysctl('net.bridge.bridge-nf-call-iptables', '1');
  } catch {
    // br_netfilter is not loaded: a pod calling a Service that lands on itself may not get its answer; nothing else needs it.
  }
  const { FORWARD, INPUT } = GUARD_CHAINS;
  const iptables = (...args: string[]) => tool('iptables', ['-w', ...args]);
  await iptables('-N', FORWARD);
  await iptables('-A', FORWARD, '-i', network.bridge, '-o', network.bridge, '-j', 'ACCEPT');
  await iptables('-A', FORWARD, '-i', network.bridge, '-j', 'DROP');
  await iptables('-A', FORWARD, '-o', network.bridge, '-j', 'DROP');
  await iptables('-I', 'FORWARD', '1', '-j', FORWARD);
  await iptables('-N', INPUT);
  await iptables('-A', INPUT, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
  // Refused at once (not dropped), so that a pod's client fails fast and says "refused".
  await iptables('-A', INPUT, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
  await iptables('-A', INPUT, '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable');
  await iptables('-I', 'INPUT', '1', '-i', network.bridge, '-j', INPUT);
}

/** Lets pods open connections to this TCP port of the node's bridge address (a server this machine runs for them). */
export async function allowPodsToReach(network: Pick<NodeNetwork, 'nodeAddress'>, port: number): Promise<void> {
  await tool('iptables', ['-w', '-I', GUARD_CHAINS.INPUT, '1', '-p', 'tcp', '-d', network.nodeAddress, '--dport', String(port), '-j', 'ACCEPT']);
}

/** Removes the bridge and the guard chains; says what it could not remove. */
export async function tearDownNetwork(bridge: string | undefined, guarded: boolean | undefined): Promise<string[]> {
  const problems: string[] = [];
  if (guarded) {
    for (const [builtIn, chain] of Object.entries(GUARD_CHAINS)) {
      // Delete every jump to it (a rule as -S prints it), then the chain; each step is a no-op when already done.
      const rules = await run('iptables', ['-w', '-S', builtIn]).then(
        (result) => result.stdout.split('\n'),
        () => [],
      );
      for (const rule of rules.filter((line) => line.startsWith(`-A ${builtIn} `) && line.endsWith(`-j ${chain}`))) {
        await deleteRule('iptables', 'filter', rule).catch((err: Error) => problems.push(err.message));
      }
      if (await chainExists(chain)) {
        try {
          await tool('iptables', ['-w', '-F', chain]);
          await tool('iptables', ['-w', '-X', chain]);
        } catch (err) {
          problems.push((err as Error).message);
        }
      }
    }
  }
  if (bridge && (await linkExists(bridge))) {
    try {
      await tool('ip', ['link', 'del', bridge]);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems;
}

export async function chainExists(chain: string): Promise<boolean> {
  return run('iptables', ['-w', '-S', chain]).then(
    () => true,
    () => false,
  );
}

export async function linkExists(name: string): Promise<boolean> {
  return run('ip', ['link', 'show', 'dev', name]).then(
    () => true,
    () => false,
  );
}

const RULE_TOOLS = ['iptables', 'ip6tables'];
const TABLES = ['filter', 'nat', 'mangle'];

/** "iptables -t nat: KUBE-SERVICES"-style names of every KUBE-* chain (the kubelet's and kube-proxy's), IPv4 and IPv6. */
export async function kubernetesChains(): Promise<string[]> {
  const found: string[] = [];
  for (const command of RULE_TOOLS) {
    for (const table of TABLES) {
      const rules = await run(command, ['-w', '-t', table, '-S']).then(
        (result) => result.stdout,
        () => '',
      );
      for (const line of rules.split('\n')) if (line.startsWith('-N KUBE-')) found.push(`${command} -t ${table}: ${line.slice(3)}`);
    }
  }
  return found;
}

/**
 * Removes the KUBE-* chains and every rule that jumps to them. kube-proxy --cleanup removes its own; the kubelet
 * makes a few more (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) that nothing removes. Only called
 * when the machine had none before the node started (localCluster.ts refuses to start otherwise).
 */
export async function removeKubernetesChains(): Promise<string[]> {
  const problems: string[] = [];
  for (const command of RULE_TOOLS) {
    for (const table of TABLES) {
      const rules = (
        await run(command, ['-w', '-t', table, '-S']).then(
          (result) => result.stdout,
          () => '',
        )
      ).split('\n');
      const chains = rules.filter((line) => line.startsWith('-N KUBE-')).map((line) => line.slice(3));
      if (!chains.length) continue;
      // Jumps from the built-in chains (INPUT, OUTPUT, ...) first: a chain still referenced cannot be deleted.
      for (const line of rules.filter((rule) => rule.startsWith('-A ') && !rule.startsWith('-A KUBE-') && /-j KUBE-/.test(rule))) {
        await deleteRule(command, table, line).catch((err: Error) => problems.push(err.message));
      }
      for (const chain of chains) await run(command, ['-w', '-t', table, '-F', chain]).catch(() => undefined);
      for (const chain of chains) {
        await run(command, ['-w', '-t', table, '-X', chain]).catch((err: { stderr?: string; message: string }) =>
          problems.push(`${command} -t ${table} -X ${chain} failed: ${err.stderr?.trim() || err.message}`),
        );
      }
    }
  }
  return problems;
}

/** Deletes a rule as `-S` printed it ("-A INPUT -j KUBE-FIREWALL"), quotes and all. */
async function deleteRule(command: string, table: string, rule: string): Promise<void> {
  const words = [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) => (match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!));
  words[0] = '-D';
  await tool(command, ['-w', '-t', table, ...words]);
}
