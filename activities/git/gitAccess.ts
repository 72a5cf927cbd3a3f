// What a definition's git_uri may reach, and with which token: the worker's operator decides (worker
// settings), not the definition's author.
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { isLoopbackHost, parseGitUri, type GitLocation } from '../../spec/gitUri.js';
import { useSecret, type SecretStore } from '../secrets/secretStore.js';

export interface GitPolicy {
  /** file:// repositories (the worker's own disk): REFIT_GIT_ALLOW_FILE=true. */
  allowFile: boolean;
  /** Hosts besides loopback that may be cloned over plain http: REFIT_GIT_ALLOW_HTTP_HOSTS=host,host. */
  allowHttpHosts: string[];
}

export const DEFAULT_GIT_POLICY: GitPolicy = { allowFile: false, allowHttpHosts: [] };

export function gitPolicyFromEnvironment(env: NodeJS.ProcessEnv = process.env): GitPolicy {
  return {
    allowFile: /^(1|true|yes)$/i.test(env.REFIT_GIT_ALLOW_FILE ?? ''),
    allowHttpHosts: (env.REFIT_GIT_ALLOW_HTTP_HOSTS ?? '')
      .split(',')
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
  };
}

/** The repository a git_uri names, once the worker's policy allows it. */
export function allowedGitLocation(gitUri: string, policy: GitPolicy): GitLocation {
  const location = parseGitUri(gitUri);
  if ('error' in location) throw new RefitError(ErrorTypes.InvalidDefinition, `git_uri: ${location.error}`);
  if (location.scheme === 'file' && !policy.allowFile) {
    throw new RefitError(
      ErrorTypes.InvalidDefinition,
      "git_uri: file:// repositories are on the worker's own disk, which definitions may not read unless the worker's operator allows it (REFIT_GIT_ALLOW_FILE=true)",
    );
  }
  if (location.scheme === 'http' && !isLoopbackHost(location.host) && !policy.allowHttpHosts.includes(location.host)) {
    throw new RefitError(
      ErrorTypes.InvalidDefinition,
      `git_uri: http:// to ${location.host} is neither encrypted nor authenticated: use https://, or the worker's operator lists the host in REFIT_GIT_ALLOW_HTTP_HOSTS`,
    );
  }
  return location;
}

/** The access token for a clone of `location`, once the secret's scope allows sending it there. */
export async function gitToken(
  secrets: SecretStore,
  secretName: string | undefined,
  location: GitLocation,
  whom: { automation: string; modelId: string },
  policy: GitPolicy = DEFAULT_GIT_POLICY,
): Promise<string | undefined> {
  if (!secretName) return undefined;
  if (location.scheme !== 'https' && location.scheme !== 'http') {
    throw new RefitError(
      ErrorTypes.InvalidDefinition,
      `git_access_token_secret is sent as an HTTP header, so it works with https:// repositories only; ${location.scheme === 'file' ? 'a file:// repository needs none' : "over ssh, git uses the worker's ssh keys"}: remove it or use an https:// git_uri`,
    );
  }
  return useSecret(secrets, secretName, {
    ...whom,
    field: 'git_access_token_secret',
    destination: location.repository,
    // The operator listed the host for plain http clones, which only work with the token sent the same way.
    plainHttpAllowed: location.scheme === 'http' && policy.allowHttpHosts.includes(location.host),
  });
}
