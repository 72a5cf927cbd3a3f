// The local cluster's certificates: a CA and what it signs for each server and client, and the aggregation
// layer's CA and the API server's client pair from it, in the cluster's folder. Keys come from Node's crypto (ECDSA P-256); certificates are signed with the `openssl` command, since
// Node cannot issue X.509 certificates. They live two days: a cluster lives for one test run or one `refit dev`.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The common name of the API server's client certificate for the aggregation layer (its requestheader allowed name). */
export const FRONT_PROXY_CLIENT_NAME = 'front-proxy-client';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  ca: KeyPair;
  apiServer: KeyPair;
  /** In system:masters: allowed everything. */
  admin: KeyPair;
  controllerManager: KeyPair;
  scheduler: KeyPair;
  /** How the API server proves itself to the kubelet (logs, exec). */
  apiServerKubeletClient: KeyPair;
  serviceAccount: { key: string; publicKey: string };
  /** The aggregation layer: the CA extension API servers trust for proxied requests, and the API server's pair it signed. */
  aggregation: { ca: KeyPair; client: KeyPair };
  node?: { client: KeyPair; serving: KeyPair; proxy: KeyPair };
}

/** One certificate authority in `pkiDir`, and how it signs a pair: a client's, or a server's for these names. */
export interface CertificateAuthority {
  ca: KeyPair;
  issue(name: string, subject: string, usage: CertificateUsage): Promise<KeyPair>;
}

/** `server`: the names (`IP:…`, `DNS:…`) a server answers for; `client`: a client; both: a pair used either way. */
export type CertificateUsage = { server: string[] } | 'client' | { serverAndClient: string[] };

/** A new CA `<name>.key`/`<name>.crt` in `pkiDir` (made if missing); the pairs it issues go beside it. */
export async function createCertificateAuthority(pkiDir: string, name: string, subject: string): Promise<CertificateAuthority> {
  mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  const file = (base: string) => path.join(pkiDir, base);
  const newKey = (base: string) => newKeyPair(pkiDir, base).key;
  writeFileSync(file('openssl.cnf'), '[req]\ndistinguished_name = dn\n[dn]\n');
  const ca = { key: newKey(name), cert: file(`${name}.crt`) };
  // `req -x509` reads its extensions from its -config file.
  writeFileSync(file(`${name}.cnf`), `[req]\ndistinguished_name = dn\n[dn]\n${CA_EXTENSIONS}`);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.key,
    '-subj',
    subject,
    '-days',
    '2',
    '-config',
    file(`${name}.cnf`),
    '-extensions',
    'ext',
    '-out',
    ca.cert,
  ]);
  const issue = async (base: string, pairSubject: string, usage: CertificateUsage): Promise<KeyPair> => {
    const pair = { key: newKey(base), cert: file(`${base}.crt`) };
    const extensions = file(`${base}.ext`);
    writeFileSync(extensions, extensionsFor(usage));
    await openssl(['req', '-new', '-key', pair.key, '-subj', pairSubject, '-config', file('openssl.cnf'), '-out', file(`${base}.csr`)]);
    await openssl([
      'x509',
      '-req',
      '-in',
      file(`${base}.csr`),
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      extensions,
      '-extensions',
      'ext',
      '-out',
      pair.cert,
    ]);
    return pair;
  };
  return { ca, issue };
}

/** The CA and every pair the control plane needs, and with `node` those of a node of that name and address. */
export async function createPki(dir: string, node?: { name: string; address: string; serviceIp: string }): Promise<ClusterPki> {
  const pkiDir = path.join(dir, 'pki');
  const authority = await createCertificateAuthority(pkiDir, 'ca', '/CN=refit-local-ca');
  // The aggregation layer's own CA, apart from the client CA as Kubernetes asks: an API server that KEDA's
  // metrics server (or any extension server) serves through trusts requests signed by it alone.
  const frontProxy = await createCertificateAuthority(pkiDir, 'front-proxy-ca', '/CN=refit-local-front-proxy-ca');
  const { ca, issue } = authority;
  const [apiServer, admin, controllerManager, scheduler, apiServerKubeletClient, frontProxyClient] = await Promise.all([
    // With a node, pods reach the API server as the `kubernetes` Service (its ClusterIP, its DNS names), which leads
    // to the node's address.
    issue('kube-apiserver', '/CN=kube-apiserver', {
      server: [
        'IP:127.0.0.1',
        'DNS:localhost',
        ...(node
          ? [
              `IP:${node.address}`,
              `IP:${node.serviceIp}`,
              'DNS:kubernetes',
              'DNS:kubernetes.default',
              'DNS:kubernetes.default.svc',
              'DNS:kubernetes.default.svc.cluster.local',
            ]
          : []),
      ],
    }),
    issue('admin', '/O=system:masters/CN=refit-local-admin', 'client'),
    issue('kube-controller-manager', '/CN=system:kube-controller-manager', 'client'),
    issue('kube-scheduler', '/CN=system:kube-scheduler', 'client'),
    issue('kube-apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'client'),
    frontProxy.issue('front-proxy-client', `/CN=${FRONT_PROXY_CLIENT_NAME}`, 'client'),
  ]);
  const serviceAccount = newKeyPair(pkiDir, 'service-account');
  const aggregation = { ca: frontProxy.ca, client: frontProxyClient };
  const pki = { ca, apiServer, admin, controllerManager, scheduler, apiServerKubeletClient, serviceAccount, aggregation };
  if (!node) return pki;
  // The Node authorizer knows a kubelet by this name and group; kube-proxy's bootstrap role binds this user.
  const [client, serving, proxy] = await Promise.all([
    issue('kubelet-client', `/O=system:nodes/CN=system:node:${node.name}`, 'client'),
    issue('kubelet-serving', `/O=system:nodes/CN=system:node:${node.name}`, { server: [`IP:${node.address}`, `DNS:${node.name}`] }),
    issue('kube-proxy', '/CN=system:kube-proxy', 'client'),
  ]);
  return { ...pki, node: { client, serving, proxy } };
}

/** An ECDSA P-256 key `<base>.key` (private, 0600) and its public half `<base>.pub` in `pkiDir`. */
function newKeyPair(pkiDir: string, base: string): { key: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const files = { key: path.join(pkiDir, `${base}.key`), publicKey: path.join(pkiDir, `${base}.pub`) };
  writeFileSync(files.key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(files.publicKey, publicKey.export({ type: 'spki', format: 'pem' }));
  return files;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args).catch((err: Error & { code?: string; stderr?: string }) => {
    if (err.code === 'ENOENT')
      throw new Error("the `openssl` command is needed to sign the local cluster's certificates: install it (Debian: `apt-get install openssl`)");
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.trim() || err.message}`);
  });
}

const CA_EXTENSIONS = `[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
`;

function extensionsFor(usage: CertificateUsage): string {
  const [purposes, names] =
    usage === 'client' ? ['clientAuth', []] : 'server' in usage ? ['serverAuth', usage.server] : ['serverAuth, clientAuth', usage.serverAndClient];
  return `[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = ${purposes}
${names.length ? `subjectAltName = ${names.join(', ')}\n` : ''}authorityKeyIdentifier = keyid
`;
}
