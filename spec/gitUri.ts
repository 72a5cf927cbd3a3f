// git_uri is "<repository>#<path inside it>", as in the seed: "https://host/org/repo.git#dir_1/dir_2".

export interface GitLocation {
  /** What `git clone` receives. */
  repository: string;
  /** Folder inside the repository the build works in; "" for the repository root. */
  subdirectory: string;
}

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$/; // git@github.com:org/repo.git

export function parseGitUri(uri: string): GitLocation | { error: string } {
  const hash = uri.indexOf('#');
  const repository = (hash === -1 ? uri : uri.slice(0, hash)).trim();
  const subdirectory = hash === -1 ? '' : uri.slice(hash + 1).replace(/\/+$/, '');
  if (!repository) return { error: 'the repository part (before "#") is empty' };
  if (SCP_LIKE.test(repository)) return checkSubdirectory({ repository, subdirectory });
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    return { error: `"${repository}" is not a repository URL (https://, http://, ssh://, git://, file:// or git@host:org/repo.git)` };
  }
  if (!['https:', 'http:', 'ssh:', 'git:', 'file:'].includes(url.protocol)) {
    return { error: `the scheme "${url.protocol}" is not supported: use https://, http://, ssh://, git://, file:// or git@host:org/repo.git` };
  }
  if ((url.protocol === 'https:' || url.protocol === 'http:') && (url.username || url.password)) {
    return {
      error:
        'the URL carries credentials: never put a token in git_uri; store it with `refit secrets set <name>` ' +
        'and name that secret in git_access_token_secret',
    };
  }
  if (url.protocol !== 'file:' && !url.hostname) return { error: `"${repository}" has no host` };
  return checkSubdirectory({ repository, subdirectory });
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
