// `refit describe --manifests <files|folders>`: the Kubernetes objects a deploy of each automation would
// apply, as YAML, for review or for teams that deploy through GitOps. No cluster is read and nothing is applied.
import { environmentsOf } from '../../shared/deployment.js';
import { stringify } from 'yaml';
import { namespaceOfEnvironment, type EnvironmentMapping } from '../../activities/deploy/kubernetes/environments.js';
import { DEFAULT_PROMETHEUS_URL } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { buildManifests, type TargetSettings } from '../../activities/deploy/kubernetes/manifests.js';
import { parseGateway } from '../../activities/deploy/kubernetes/routing.js';
import { referencedSecrets } from '../../activities/deploy/kubernetes/workload.js';
import { loadDefinitions } from '../../spec/loader.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { formatPath } from '../../spec/validate.js';
import { EXIT } from '../output.js';

// Valid stand-ins while the objects are built (a build id must be a valid label value), replaced in the text.
const BUILD_ID = 'refit-build-id-placeholder';
const IMAGE_REPOSITORY = 'refit-image-repository-placeholder';

export interface ManifestOptions {
  namespace: string;
  environments: EnvironmentMapping;
  settings: TargetSettings;
}

/** The same settings the worker's Kubernetes target reads (see worker/dependencies.ts). */
export function manifestOptionsFromEnvironment(env: NodeJS.ProcessEnv = process.env): ManifestOptions {
  return {
    namespace: env.REFIT_KUBE_NAMESPACE || 'default',
    environments: env.REFIT_KUBE_ENVIRONMENTS === 'contexts' ? 'contexts' : 'namespaces',
    settings: {
      imageRepository: env.REFIT_IMAGE_REPOSITORY || IMAGE_REPOSITORY,
      prometheusUrl: env.REFIT_PROMETHEUS_URL || DEFAULT_PROMETHEUS_URL,
      gateway: parseGateway(env.REFIT_GATEWAY),
    },
  };
}

/** Every automation's objects, one YAML document per object, in the order a deploy applies them. */
export function renderManifests(automations: AutomationModel[], options: ManifestOptions): string {
  // Variations of one model in one environment share a route: collect them across all definitions.
  const variationsOf = new Map<string, string[]>();
  for (const automation of automations) {
    for (const environment of environmentsOf(automation.action.deployment_spec)) {
      const key = `${automation.model_id}\n${environment}`;
      variationsOf.set(key, [...(variationsOf.get(key) ?? []), automation.action.deployment_spec.variation_name]);
    }
  }
  const documents: string[] = [];
  const header = [
    '# The Kubernetes objects a deploy would apply (server-side, field manager "refit"). Nothing was applied and no cluster was read.',
    `# ${'<build-id>'} stands for the id of the build each run makes; the image ${options.settings.imageRepository === IMAGE_REPOSITORY ? '(set REFIT_IMAGE_REPOSITORY) ' : ''}is pushed there by the build system.`,
    '# Assumes KEDA and the Gateway API are installed; without KEDA, an auto_scale_config on cpu/memory only becomes a HorizontalPodAutoscaler.',
  ];
  for (const automation of automations) {
    const spec = automation.action.deployment_spec;
    for (const environment of environmentsOf(automation.action.deployment_spec)) {
      const namespace = options.environments === 'namespaces' ? namespaceOfEnvironment(environment, options.namespace) : options.namespace;
      const plan = buildManifests({
        release: { automation: automation.name, modelId: automation.model_id, buildId: BUILD_ID, spec, metrics: {} },
        namespace,
        variations: variationsOf.get(`${automation.model_id}\n${environment}`) ?? [],
        secretKeys: Object.fromEntries(referencedSecrets(spec.env_vars).map((name) => [name, 'value'])),
        features: { keda: true, gatewayApi: true },
        settings: options.settings,
      });
      const where = options.environments === 'contexts' && environment ? `kubeconfig context ${environment}, namespace ${namespace}` : `namespace ${namespace}`;
      const comments = [
        ...(documents.length ? [] : header),
        `# automation ${automation.name}: model ${automation.model_id}, variation ${spec.variation_name}, ${environment ? `environment ${environment}` : 'default environment'} (${where})`,
        ...plan.notes.map((note) => `# note: ${note}`),
      ];
      [...plan.workload, ...plan.serving].forEach((object, index) => {
        documents.push(`${index === 0 ? `${comments.join('\n')}\n` : ''}${stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })}`);
      });
    }
  }
  return documents.join('---\n').replaceAll(BUILD_ID, '<build-id>').replaceAll(IMAGE_REPOSITORY, '<image-repository>');
}

export async function manifestsCommand(targets: string[], options: { allowCode?: boolean } = {}): Promise<number> {
  const result = await loadDefinitions(targets, { allowCode: options.allowCode });
  if (result.errors.length) {
    for (const problem of result.errors) console.error(`${problem.file}: ${problem.path.length ? `${formatPath(problem.path)}: ` : ''}${problem.message}`);
    console.error(`refit: the definitions have errors (see above, or \`refit validate ${targets.join(' ')}\`); no manifests printed`);
    return EXIT.failed;
  }
  if (!result.automations.length) {
    console.error(`refit: no automations in ${targets.join(', ')}`);
    return EXIT.failed;
  }
  process.stdout.write(
    renderManifests(
      result.automations.map((loaded) => loaded.automation),
      manifestOptionsFromEnvironment(),
    ),
  );
  return EXIT.ok;
}
