// The local cluster's certificates: one CA, and what it signs for each server and client, in the cluster's
// folder. Keys come from Node's crypto (ECDSA P-256); certificates are signed with the `openssl` command, since
// Node cannot issue X.509 certificates. They live two days: a cluster lives for one test run or one `refit dev`.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
  node?: { client: KeyPair; serving: KeyPair; proxy: KeyPair };
}

/** The CA and every pair the control plane needs, and with `node` those of a node of that name and address. */
export async function createPki(dir: string, node?: { name: string; address: string }): Promise<ClusterPki> {
  const pkiDir = path.join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(pkiDir, name);
  const newKey = (name: string): string => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(file(`${name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(file(`${name}.pub`), publicKey.export({ type: 'spki', format: 'pem' }));
    return file(`${name}.key`);
  };
  writeFileSync(file('openssl.cnf'), '[req]\ndistinguished_name = dn\n[dn]\n');
  const ca = { key: newKey('ca'), cert: file('ca.crt') };
  // `req -x509` reads its extensions from its -config file.
  writeFileSync(file('ca.cnf'), `[req]\ndistinguished_name = dn\n[dn]\n${CA_EXTENSIONS}`);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.key,
    '-subj',
    '/CN=refit-local-ca',
    '-days',
    '2',
    '-config',
    file('ca.cnf'),
    '-extensions',
    'ext',
    '-out',
    ca.cert,
  ]);

  const issue = async (name: string, subject: string, usage: { server: string[] } | 'client'): Promise<KeyPair> => {
    const pair = { key: newKey(name), cert: file(`${name}.crt`) };
    const extensions = file(`${name}.ext`);
    writeFileSync(extensions, usage === 'client' ? CLIENT_EXTENSIONS : serverExtensions(usage.server));
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
      extensions,
      '-extensions',
      'ext',
      '-out',
      pair.cert,
    ]);
    return pair;
  };
  const [apiServer, admin, controllerManager, scheduler, apiServerKubeletClient] = await Promise.all([
    issue('kube-apiserver', '/CN=kube-apiserver', { server: ['IP:127.0.0.1', 'DNS:localhost'] }),
    issue('admin', '/O=system:masters/CN=refit-local-admin', 'client'),
    issue('kube-controller-manager', '/CN=system:kube-controller-manager', 'client'),
    issue('kube-scheduler', '/CN=system:kube-scheduler', 'client'),
    issue('kube-apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'client'),
  ]);
  const serviceAccount = { key: newKey('service-account'), publicKey: file('service-account.pub') };
  if (!node) return { ca, apiServer, admin, controllerManager, scheduler, apiServerKubeletClient, serviceAccount };
  // The Node authorizer knows a kubelet by this name and group; kube-proxy's bootstrap role binds this user.
  const [client, serving, proxy] = await Promise.all([
    issue('kubelet-client', `/O=system:nodes/CN=system:node:${node.name}`, 'client'),
    issue('kubelet-serving', `/O=system:nodes/CN=system:node:${node.name}`, { server: [`IP:${node.address}`, `DNS:${node.name}`] }),
    issue('kube-proxy', '/CN=system:kube-proxy', 'client'),
  ]);
  return { ca, apiServer, admin, controllerManager, scheduler, apiServerKubeletClient, serviceAccount, node: { client, serving, proxy } };
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

function serverExtensions(names: string[]): string {
  return `[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${names.join(', ')}
authorityKeyIdentifier = keyid
`;
}

const CLIENT_EXTENSIONS = `[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;
