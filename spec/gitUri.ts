// git_uri is "<repository>#<path inside it>", as in the seed: "https://host/org/repo.git#dir_1/dir_2".

export interface GitLocation {
  /** What `git clone` receives. */
  repository: string;
  /** Folder inside the repository the build works in; "" for the repository root. */
  subdirectory: string;
  /** How git reaches it: `scp` is the ssh shorthand git@host:org/repo.git. */
  scheme: 'https' | 'http' | 'ssh' | 'scp' | 'file';
  /** The host (lower case, IPv6 without brackets); "" for file://. */
  host: string;
  /** The port, when the URL gives one. */
  port?: number;
}

const SCP_LIKE = /^([A-Za-z0-9._][A-Za-z0-9._-]*)@([A-Za-z0-9.][A-Za-z0-9.-]*):([^/].*)$/; // git@github.com:org/repo.git
const FORMS = 'https://, http://, ssh://, file:// or git@host:org/repo.git';

export function parseGitUri(uri: string): GitLocation | { error: string } {
  const hash = uri.indexOf('#');
  const repository = (hash === -1 ? uri : uri.slice(0, hash)).trim();
  const subdirectory = hash === -1 ? '' : uri.slice(hash + 1).replace(/\/+$/, '');
  if (!repository) return { error: 'the repository part (before "#") is empty' };
  // git would read a leading "-" as one of its own options (e.g. --upload-pack=<command>).
  if (repository.startsWith('-')) return { error: `"${repository}" starts with "-", which git would read as an option: give a repository URL (${FORMS})` };
  const scp = SCP_LIKE.exec(repository);
  if (scp) return checkSubdirectory({ repository, subdirectory, scheme: 'scp', host: scp[2]!.toLowerCase() });
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    return { error: `"${repository}" is not a repository URL (${FORMS})` };
  }
  if (!['https:', 'http:', 'ssh:', 'file:'].includes(url.protocol)) {
    const why = url.protocol === 'git:' ? ' (git:// is neither encrypted nor authenticated)' : '';
    return { error: `the scheme "${url.protocol}" is not supported${why}: use ${FORMS}` };
  }
  // ssh would read a host or user starting with "-" as an option (ssh://-oProxyCommand=...).
  if (url.hostname.startsWith('-') || decodeURIComponent(url.username).startsWith('-')) {
    return { error: `the host or user in "${repository}" starts with "-", which ssh would read as an option` };
  }
  if ((url.protocol === 'https:' || url.protocol === 'http:') && (url.username || url.password)) {
    return {
      error:
        'the URL carries credentials: never put a token in git_uri; store it with `refit secrets set <name>` ' +
        'and name that secret in git_access_token_secret',
    };
  }
  if (url.protocol !== 'file:' && !url.hostname) return { error: `"${repository}" has no host` };
  if (url.protocol === 'file:' && url.hostname)
    return { error: `"${repository}" names a host; a file:// repository is on the worker's own disk (file:///path/repo.git)` };
  return checkSubdirectory({
    repository,
    subdirectory,
    scheme: url.protocol.slice(0, -1) as GitLocation['scheme'],
    host: url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'),
    ...(url.port ? { port: Number(url.port) } : {}),
  });
}

/** 127.0.0.0/8, ::1 and localhost: addresses that never leave this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare) || /^::ffff:127(\.\d{1,3}){3}$/.test(bare);
}

function checkSubdirectory(location: GitLocation): GitLocation | { error: string } {
  const { subdirectory } = location;
  if (subdirectory.startsWith('/')) return { error: `the path after "#" must be relative to the repository root, not "${subdirectory}"` };
  if (subdirectory.split('/').some((part) => part === '..' || part === '.')) {
    return { error: `the path after "#" must not contain "." or ".." ("${subdirectory}")` };
  }
  if (/\/\/|\\/.test(subdirectory)) return { error: `the path after "#" is malformed ("${subdirectory}")` };
  return location;
}
