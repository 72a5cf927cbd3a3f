// A real, throwaway Kubernetes control plane for one test file, started the way controller-runtime's envtest
// starts one: etcd, then kube-apiserver, then kube-controller-manager, on loopback and free ports, with a CA,
// certificates and service-account keys of its own in a temporary folder. Each server runs under the tether,
// so it dies with the test process (even on SIGKILL) and the folder is removed.
//
// There is no kubelet and no scheduler: pods are created (by the ReplicaSet controller) but never scheduled
// or run, so nothing ever becomes ready by itself. A test that needs a finished rollout reports its pods
// ready through the pods' status subresource, as a kubelet would, and the controllers then mark the
// ReplicaSet and the Deployment available. Writing the Deployment's status directly does not stick: the
// deployment controller owns it and recomputes it from the ReplicaSets on its next sync.
//
// Keys come from Node's crypto (ECDSA P-256); certificates are signed with the `openssl` command, since Node
// cannot issue X.509 certificates.
import { execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../../platform/freePort.js';
import { spawnTethered } from '../../platform/tethered.js';
import { hasExited } from '../../platform/processes.js';
import { runInstaller } from '../../devstack/installers.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 90_000;
/** The controllers Refit's deployments exercise; the others only cost start-up time on two cores. */
const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
];

export interface TestKubernetes {
  /** A kubeconfig whose user is in system:masters (allowed everything), for tools that read a file. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Stops the controller-manager, the API server and etcd, and resolves once they are gone and the folder removed. */
  stop(): Promise<void>;
}

interface Server {
  name: string;
  /** The server's log, opened before it starts: it stays readable after etcd's tether removes the folder. */
  log: number;
  tether: ChildProcess;
}

/** Starts the control plane and installs the KEDA and Gateway API CRDs; resolves once all are ready. */
export async function startKubernetes(): Promise<TestKubernetes> {
  const bin = await testEnvBinDir();
  const keep = Boolean(process.env.REFIT_KEEP_TEST_STATE);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-k8s-'));
  const servers: Server[] = [];
  const stop = async (): Promise<void> => {
    // Clients of etcd first, so that nothing shuts down talking to a store that is already gone.
    await Promise.all(servers.slice(1).map(stopServer));
    if (servers[0]) await stopServer(servers[0]);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = await createPki(dir);
    const [etcdPort, etcdPeerPort, apiPort, controllerManagerPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    // etcd's tether removes the folder: it is started first and stopped last.
    servers.push(
      startServer(
        dir,
        bin,
        'etcd',
        [
          '--name=refit-test',
          `--data-dir=${path.join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=refit-test=${peerUrl}`,
          // A throwaway store: durability only costs time.
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        keep ? undefined : dir,
      ),
    );
    await waitUntilServing(servers[0]!, () => probe(`${etcdUrl}/health`));

    servers.push(
      startServer(dir, bin, 'kube-apiserver', [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${path.join(dir, 'kube-apiserver')}`,
        `--tls-cert-file=${pki.apiServer.cert}`,
        `--tls-private-key-file=${pki.apiServer.key}`,
        `--client-ca-file=${pki.ca.cert}`,
        // RBAC, as in a real cluster: the test user is in system:masters, the controllers have their bootstrap roles.
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.serviceAccount.publicKey}`,
        `--service-account-signing-key-file=${pki.serviceAccount.key}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        // The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints validation refuses, in a loop.
        '--endpoint-reconciler-type=none',
        // As in envtest: it refuses pods until their namespace's `default` service account exists, so a fresh
        // namespace's first rollout would wait on a controller. The other default plugins stay on.
        '--disable-admission-plugins=ServiceAccount',
        '--allow-privileged=true',
        '--profiling=false',
      ]),
    );
    const admin = { name: 'refit-test-admin', ...pki.admin };
    await waitUntilServing(servers[1]!, () => probe(`${server}/readyz`, { ca: pki.ca.cert, ...admin }));

    const controllerManagerKubeconfig = path.join(dir, 'kube-controller-manager.kubeconfig');
    const controllerManager = { name: 'system:kube-controller-manager', ...pki.controllerManager };
    writeFileSync(controllerManagerKubeconfig, kubeConfigFor(server, pki.ca.cert, controllerManager).exportConfig());
    servers.push(
      startServer(dir, bin, 'kube-controller-manager', [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        `--cert-dir=${path.join(dir, 'kube-controller-manager')}`,
        '--leader-elect=false',
        `--controllers=${CONTROLLERS.join(',')}`,
        // Each controller acts as its own service account with its bootstrap RBAC role, as kubeadm sets it up.
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${pki.serviceAccount.key}`,
        `--root-ca-file=${pki.ca.cert}`,
      ]),
    );
    // It serves /healthz with a certificate it made itself; only the answer matters here.
    await waitUntilServing(servers[2]!, () => probe(`https://127.0.0.1:${controllerManagerPort}/healthz`, { insecure: true }));

    const kubeConfig = kubeConfigFor(server, pki.ca.cert, admin);
    const kubeconfigPath = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
    await installCrds(kubeConfig, path.join(path.dirname(bin), 'crds'));
    if (keep) console.log(`test Kubernetes control plane at ${server}; state (kept) in ${dir}`);
    return { kubeconfigPath, kubeConfig, server, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The bin folder from scripts/install-k8s-test-env.sh --check, which only looks (building is `make test-tools`' job). */
function testEnvBinDir(): Promise<string> {
  return runInstaller('install-k8s-test-env.sh', 'these tests need a Kubernetes control plane', ['--check']);
}

interface KeyPair {
  cert: string;
  key: string;
}

/** A CA and what is signed by it, plus the service-account signing key pair; file paths in `dir`. */
async function createPki(dir: string) {
  const pkiDir = path.join(dir, 'pki');
  mkdirSync(pkiDir, { mode: 0o700 });
  const file = (name: string) => path.join(pkiDir, name);
  const openssl = (args: string[]) =>
    run('openssl', args).catch((err: Error & { code?: string; stderr?: string }) => {
      if (err.code === 'ENOENT')
        throw new Error("the `openssl` command is needed to sign the test control plane's certificates: install it (Debian: `apt-get install openssl`)");
      throw new Error(`openssl ${args[0]} failed: ${err.stderr?.trim() || err.message}`);
    });
  const newKey = (name: string): string => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(file(`${name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(file(`${name}.pub`), publicKey.export({ type: 'spki', format: 'pem' }));
    return file(`${name}.key`);
  };
  writeFileSync(file('openssl.cnf'), OPENSSL_CONFIG);
  const ca = { key: newKey('ca'), cert: file('ca.crt') };
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.key,
    '-subj',
    '/CN=refit-test-ca',
    '-days',
    '2',
    '-config',
    file('openssl.cnf'),
    '-extensions',
    'ca',
    '-out',
    ca.cert,
  ]);
  const issue = async (name: string, subject: string, profile: 'server' | 'client'): Promise<KeyPair> => {
    const pair = { key: newKey(name), cert: file(`${name}.crt`) };
    await openssl(['req', '-new', '-key', pair.key, '-subj', subject, '-config', file('openssl.cnf'), '-out', file(`${name}.csr`)]);
    await openssl([
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      file('openssl.cnf'),
      '-extensions',
      profile,
      '-out',
      pair.cert,
    ]);
    return pair;
  };
  const [apiServer, admin, controllerManager] = await Promise.all([
    issue('kube-apiserver', '/CN=kube-apiserver', 'server'),
    issue('admin', '/O=system:masters/CN=refit-test-admin', 'client'),
    issue('kube-controller-manager', '/CN=system:kube-controller-manager', 'client'),
  ]);
  const serviceAccount = { key: newKey('service-account'), publicKey: file('service-account.pub') };
  return { ca, apiServer, admin, controllerManager, serviceAccount };
}

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

function kubeConfigFor(server: string, caFile: string, user: KeyPair & { name: string }): KubeConfig {
  const base64 = (file: string) => readFileSync(file).toString('base64');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'refit-test', server, caData: base64(caFile), skipTLSVerify: false }],
    users: [{ name: user.name, certData: base64(user.cert), keyData: base64(user.key) }],
    contexts: [{ name: 'refit-test', cluster: 'refit-test', user: user.name }],
    currentContext: 'refit-test',
  });
  return kubeConfig;
}

function startServer(dir: string, bin: string, name: string, args: string[], removeOnExit?: string): Server {
  const logFile = path.join(dir, `${name}.log`);
  const log = openSync(logFile, 'a+');
  const tether = spawnTethered(logFile, path.join(bin, name), args, { cwd: dir, removeOnExit });
  return { name, log, tether };
}

async function stopServer(server: Server): Promise<void> {
  if (!hasExited(server.tether)) {
    const gone = new Promise<void>((resolve) => server.tether.once('exit', () => resolve()));
    server.tether.kill('SIGTERM');
    await gone;
  }
  if (server.log >= 0) closeSync(server.log);
  server.log = -1;
}

/** Resolves when `check` does; fails when the server exits or the deadline passes, with the end of its log. */
async function waitUntilServing(server: Server, check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (hasExited(server.tether)) throw new Error(`${server.name} exited during start-up; its log ends with:\n${tail(server.log)}`);
    try {
      return await check();
    } catch (err) {
      lastError = (err as Error).message;
      await sleep(200);
    }
  }
  throw new Error(`${server.name} was not ready within ${START_TIMEOUT_MS} ms (${lastError}); its log ends with:\n${tail(server.log)}`);
}

/** GET `url`; resolves on 200, rejects with the status and body otherwise. */
async function probe(url: string, tls: Partial<KeyPair> & { ca?: string; insecure?: boolean } = {}): Promise<void> {
  const read = (file?: string) => file && readFileSync(file);
  const { status, body } = await request(url, { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key), rejectUnauthorized: !tls.insecure });
  if (status !== 200) throw new Error(`${url} answered ${status}: ${body.trim().split('\n').slice(-5).join(' | ')}`);
}

function request(url: string, options: https.RequestOptions, body?: string): Promise<{ status: number; body: string }> {
  const timeoutMs = 10_000;
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? https.request : http.request;
    const outgoing = send(url, { timeout: timeoutMs, ...options }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Applies every CRD in `crdDir` (server-side) and waits until the API server serves each (condition Established).
 * The YAML goes to the server as it is: KubernetesObjectApi would pass a built-in kind through the client's
 * typed models, which expect their own property names and drop schema keys such as `default`, `enum` and
 * `x-kubernetes-int-or-string`.
 */
async function installCrds(kubeConfig: KubeConfig, crdDir: string): Promise<void> {
  const crds = readdirSync(crdDir)
    .filter((name) => name.endsWith('.yaml'))
    .flatMap((name) => parseAllDocuments(readFileSync(path.join(crdDir, name), 'utf8')).map((doc) => doc.toJS() as V1CustomResourceDefinition))
    .filter((crd) => crd?.kind === 'CustomResourceDefinition');
  const server = kubeConfig.getCurrentCluster()!.server;
  await Promise.all(
    crds.map(async (crd) => {
      const url = `${server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name}?fieldManager=refit-test-harness&force=true`;
      const options: https.RequestOptions = { method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml' } };
      await kubeConfig.applyToHTTPSOptions(options);
      const { status, body } = await request(url, options, JSON.stringify(crd));
      if (status !== 200 && status !== 201) throw new Error(`applying the CRD ${crd.metadata!.name} failed with ${status}: ${body}`);
    }),
  );
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    for (;;) {
      const current = await extensions.readCustomResourceDefinition({ name });
      if (current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`the CRD ${name} was not Established within ${START_TIMEOUT_MS} ms: ${JSON.stringify(current.status?.conditions)}`);
      await sleep(100);
    }
  }
}

function tail(log: number, lines = 20): string {
  const { size } = fstatSync(log);
  const end = Buffer.alloc(Math.min(size, 64 * 1024));
  readSync(log, end, 0, end.length, size - end.length);
  return end.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(empty log)';
}
