// MLflow's Model Registry, kept in step with what serves: each deployed build becomes a version of the registered
// model named after its model id (tagged with the build, commit, automation and image), and the alias of the
// variation it serves moves to it on every deploy and rollback, as MLflow users promote models by hand today.
// Versions are found again by their refit.build_id tag, so a retried deploy registers nothing twice.
import { z } from 'zod';
import { MlflowApi, MlflowApiError } from './mlflowApi.js';

export const REGISTRY_TAGS = {
  buildId: 'refit.build_id',
  gitCommit: 'refit.git_commit',
  automation: 'refit.automation',
  image: 'refit.image',
} as const;

/** What moved, for the deploy's notes. */
export interface RegistryPromotion {
  name: string;
  version: string;
  alias: string;
  created: boolean;
}

export interface RegistryBuild {
  modelId: string;
  environment: string;
  variation: string;
  buildId: string;
  automation?: string;
  gitCommit?: string;
  image?: string;
}

const ModelVersion = z.object({ name: z.string(), version: z.string().min(1) });
const SearchVersionsAnswer = z.object({ model_versions: z.array(ModelVersion).optional() });
const CreateVersionAnswer = z.object({ model_version: ModelVersion });
const Empty = z.object({}).passthrough();

/**
 * The alias a variation's serving build carries: `champion` for the default variation, else the variation's name,
 * prefixed by the environment's name outside the default environment ("staging-champion"). MLflow aliases are
 * letters, digits, "_" and "-", and not "latest" or "v<digits>".
 */
export function aliasFor(environment: string, variation: string): string {
  const base = variation === 'default' ? 'champion' : variation;
  const alias = (environment ? `${environment}-${base}` : base).replace(/[^A-Za-z0-9_-]/g, '_');
  return /^(latest|v\d+)$/i.test(alias) ? `${alias}_variation` : alias;
}

export class MlflowModelRegistry {
  constructor(
    private readonly api: MlflowApi,
    /** The build's MLflow run, when it has one: the version links to it. */
    private readonly runIdOf: (buildId: string) => Promise<string | undefined> = async () => undefined,
  ) {}

  /** Registers the build as a version (once) and moves its variation's alias to it. */
  async promote(build: RegistryBuild): Promise<RegistryPromotion> {
    const name = build.modelId;
    await this.ensureRegisteredModel(name);
    let version = await this.versionOf(name, build.buildId);
    const created = !version;
    if (!version) version = await this.createVersion(build);
    const alias = aliasFor(build.environment, build.variation);
    await this.api.call('POST', 'registered-models/alias', { name, alias, version }, Empty);
    return { name, version, alias, created };
  }

  /** The version registered for a build, if any. */
  async versionOf(name: string, buildId: string): Promise<string | undefined> {
    for (const value of [name, buildId]) {
      // MLflow's filter language has no escape for a quote inside a value.
      if (/['"\\`]/.test(value)) throw new Error(`${JSON.stringify(value)} holds a quote or backslash, which an MLflow search filter cannot express`);
    }
    const query = new URLSearchParams({ filter: `name='${name}' and tag.\`${REGISTRY_TAGS.buildId}\`='${buildId}'`, max_results: '10' });
    const answer = await this.api.call('GET', `model-versions/search?${query}`, undefined, SearchVersionsAnswer);
    // The oldest, should two workers ever have raced to register the same build.
    const versions = (answer.model_versions ?? []).map((entry) => entry.version).sort((a, b) => Number(a) - Number(b));
    return versions[0];
  }

  /** Takes a variation's alias away (the variation no longer serves); nothing when it is not set. */
  async removeAlias(modelId: string, environment: string, variation: string): Promise<void> {
    const query = new URLSearchParams({ name: modelId, alias: aliasFor(environment, variation) });
    try {
      await this.api.call('DELETE', `registered-models/alias?${query}`, undefined, Empty);
    } catch (err) {
      if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST')) throw err;
    }
  }

  /** The version an alias points at now, if it is set. */
  async aliasVersion(name: string, alias: string): Promise<string | undefined> {
    try {
      const answer = await this.api.call('GET', `registered-models/alias?${new URLSearchParams({ name, alias })}`, undefined, CreateVersionAnswer);
      return answer.model_version.version;
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  private async ensureRegisteredModel(name: string): Promise<void> {
    try {
      await this.api.call('POST', 'registered-models/create', { name, description: `Builds of model ${name}, registered by Refit as they deploy.` }, Empty);
    } catch (err) {
      if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
    }
  }

  private async createVersion(build: RegistryBuild): Promise<string> {
    const runId = await this.runIdOf(build.buildId);
    const tags = [
      { key: REGISTRY_TAGS.buildId, value: build.buildId },
      ...(build.gitCommit ? [{ key: REGISTRY_TAGS.gitCommit, value: build.gitCommit }] : []),
      ...(build.automation ? [{ key: REGISTRY_TAGS.automation, value: build.automation }] : []),
      ...(build.image ? [{ key: REGISTRY_TAGS.image, value: build.image }] : []),
    ];
    // Refit keeps a build's artifact in its image (or on the worker), not in MLflow's artifact store: the source
    // says where it is, and the run, when there is one, holds its metrics.
    const source = build.image ? `oci://${build.image}` : `refit://${build.modelId}/builds/${build.buildId}`;
    const answer = await this.api.call(
      'POST',
      'model-versions/create',
      { name: build.modelId, source, ...(runId ? { run_id: runId } : {}), tags, description: `Refit build ${build.buildId}` },
      CreateVersionAnswer,
    );
    return answer.model_version.version;
  }
}
