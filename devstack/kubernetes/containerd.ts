// The node's container runtime: containerd 2.x with its CRI plugin, runc from the system, the CNI bridge
// plugin. Its state, images and sockets live in the cluster's folder and the node's run folder; it reads no
// system configuration (no /etc/containerd imports) and pulls only from the local registry, over plain HTTP
// on loopback.
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NODE_RUN_DIR } from './hostRecord.js';
import type { NodeNetwork } from './hostNetwork.js';
import { startServer, waitUntilServing, type ServerProcess } from './serverProcess.js';

export const CNI_BIN_DIR = process.env.REFIT_CNI_BIN_DIR || '/usr/lib/cni';

export interface ContainerdOptions {
  dir: string;
  bin: string;
  network: NodeNetwork;
  /** host:port of the local registry. */
  registry: string;
  /** The sandbox (pause) image, in that registry. */
  pauseImage: string;
  runc: string;
}

export function containerdSocket(): string {
  return path.join(NODE_RUN_DIR, 'containerd.sock');
}

/** The CNI network pods join: the bridge, addresses from the pod range, and a route to the Service range only. */
export function cniConfig(network: NodeNetwork, ipamDir: string): object {
  return {
    cniVersion: '1.0.0',
    name: 'refit-node',
    plugins: [
      {
        type: 'bridge',
        bridge: network.bridge,
        isGateway: true,
        // No default route: a pod reaches the node, other pods and Services, nothing beyond this machine.
        isDefaultGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: ipamDir,
          ranges: [[{ subnet: network.podCidr, gateway: network.nodeAddress }]],
          routes: [{ dst: network.serviceCidr }],
        },
      },
    ],
  };
}

function containerdConfig(options: ContainerdOptions, dirs: Record<'root' | 'state' | 'runc' | 'certs' | 'cniConf' | 'opt' | 'shims', string>): string {
  const quote = (value: string) => JSON.stringify(value);
  return `version = 3
root = ${quote(dirs.root)}
state = ${quote(dirs.state)}
imports = []

[grpc]
  address = ${quote(containerdSocket())}

[ttrpc]
  address = ${quote(`${containerdSocket()}.ttrpc`)}

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${quote(options.pauseImage)}
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ${quote(dirs.certs)}

  [plugins.'io.containerd.cri.v1.runtime']
    # These machines take CAP_SYS_RESOURCE away from every process: without this, runc fails to lower the
    # pause container's oom_score_adj ("can't get final child's PID from pipe: EOF").
    restrict_oom_score_adj = true
    # Network namespaces are bind-mounted here, not under /run/netns, so that teardown finds them all.
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${quote(CNI_BIN_DIR)}]
      conf_dir = ${quote(dirs.cniConf)}
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = ${quote(options.runc)}
          Root = ${quote(dirs.runc)}
          SystemdCgroup = false

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'

  [plugins.'io.containerd.internal.v1.opt']
    path = ${quote(dirs.opt)}

  [plugins.'io.containerd.nri.v1.nri']
    disable = true

  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = ${quote(dirs.shims)}
`;
}

/** Writes the configuration, the registry's hosts.toml and the CNI network, starts containerd and waits for its socket. */
export async function startContainerd(options: ContainerdOptions): Promise<ServerProcess> {
  const base = path.join(options.dir, 'containerd');
  const dirs = {
    root: path.join(base, 'root'),
    state: path.join(base, 'state'),
    runc: path.join(base, 'runc'),
    certs: path.join(base, 'certs.d'),
    cniConf: path.join(options.dir, 'cni', 'net.d'),
    opt: path.join(base, 'opt'),
    // Shim sockets are named by a 64-character hash: a short folder keeps them within a socket path's 108 bytes.
    shims: path.join(NODE_RUN_DIR, 's'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o711 });
  const registryDir = path.join(dirs.certs, options.registry);
  mkdirSync(registryDir, { recursive: true });
  writeFileSync(
    path.join(registryDir, 'hosts.toml'),
    `server = "http://${options.registry}"\n\n[host."http://${options.registry}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  writeFileSync(path.join(dirs.cniConf, '10-refit-node.conflist'), JSON.stringify(cniConfig(options.network, path.join(options.dir, 'cni', 'ipam')), null, 2));
  const configFile = path.join(base, 'config.toml');
  writeFileSync(configFile, containerdConfig(options, dirs));
  const containerd = startServer(options.dir, path.join(options.bin, 'containerd'), ['--config', configFile, '--log-level', 'warn'], {
    // containerd finds its shim on PATH.
    env: { PATH: `${options.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: base },
  });
  await waitUntilServing(containerd, () => connectUnix(containerdSocket()));
  return containerd;
}

function connectUnix(socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const connection = net.connect(socket, () => {
      connection.end();
      resolve();
    });
    connection.on('error', reject);
  });
}
