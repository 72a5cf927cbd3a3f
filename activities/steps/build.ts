// The steps that make a build: clone, build (dependencies, tests, training), metrics; and the commit a
// build would clone now, for plans.
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { BuildOutput, CloneOutput } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { withHeartbeat } from '../activityContext.js';
import { buildOnCluster, resolveCloneOnCluster, type ClusterStepContext } from '../build/kubernetes/clusterBuildSteps.js';
import { publishModelImage } from '../build/modelImage.js';
import { describeInterpreter } from '../build/pythonEnvironment.js';
import { runBuild } from '../build/runBuild.js';
import { decideFromMetrics } from '../condition/evaluateCondition.js';
import { minutes, type ActivityDependencies } from '../dependencies.js';
import { cloneRepository, remoteHead } from '../git/cloneRepository.js';
import { allowedGitLocation, gitToken } from '../git/gitAccess.js';
import { metricsWhenBuilt, waitForMetric } from '../metrics/metricSource.js';
import { checkRunSecrets, secretsOfRun } from '../secrets/runSecrets.js';
import { buildDirOf } from './workspace.js';
import type { Slots } from '../process/slots.js';

type BuildSpec = AutomationModel['action']['build_spec'];
type DeploymentCondition = AutomationModel['action']['deployment_condition'];

export function createBuildActivities(deps: ActivityDependencies) {
  // With builds on the cluster, the clone and the build happen in the build's Job: these steps resolve and follow it.
  const onCluster = (buildId: string, progress: (details: unknown) => void): ClusterStepContext | undefined =>
    deps.buildRunner?.kind === 'kubernetes'
      ? {
          runner: deps.buildRunner,
          secrets: deps.secrets,
          metricSource: deps.metricSource,
          gitPolicy: deps.gitPolicy,
          buildDir: buildDirOf(deps, buildId),
          timeoutMs: minutes(deps.limits.buildMinutes),
          signal: Context.current().cancellationSignal,
          onProgress: progress,
        }
      : undefined;

  /** The build itself, on this host or in a Job on the cluster. */
  async function runModelBuild(
    input: { buildId: string; automation: string; modelId: string; modelDir: string; buildSpec: BuildSpec },
    progress: (details: unknown) => void,
  ): Promise<BuildOutput> {
    const cluster = onCluster(input.buildId, progress);
    if (cluster) return buildOnCluster(input, cluster);
    const buildDir = buildDirOf(deps, input.buildId);
    const result = await inSlot(deps.slots?.builds, 'build', progress, () =>
      runBuild({
        buildId: input.buildId,
        automation: input.automation,
        modelId: input.modelId,
        modelDir: input.modelDir,
        spec: input.buildSpec,
        buildDir,
        sourceDir: path.join(buildDir, 'src'),
        sandbox: deps.sandbox,
        secrets: deps.secrets,
        metricSource: deps.metricSource,
        venvCacheDir: deps.venvCacheDir,
        python: deps.python,
        sdkPythonPath: deps.sdkPythonPath,
        timeoutMs: minutes(deps.limits.buildMinutes),
        signal: Context.current().cancellationSignal,
        onProgress: progress,
        cgroupRoot: deps.cgroupRoot,
      }),
    );
    // For a target that runs images: the build's image, or (push_image: false) why there is none.
    const publishing = deps.imagePublishing;
    const image: Pick<BuildOutput, 'image' | 'imageNotPushed'> = !publishing
      ? {}
      : !input.buildSpec.push_image
        ? { imageNotPushed: `push_image is false, so build ${input.buildId} pushed no image for the deploy to run` }
        : {
            image: await publishModelImage({
              publishing,
              modelId: input.modelId,
              buildId: input.buildId,
              artifactDir: result.artifactDir,
              environmentDir: result.environment.dir,
              pythonVersion: (await describeInterpreter(deps.python)).version,
              workDir: buildDir,
              signal: Context.current().cancellationSignal,
              onProgress: (line) => progress({ step: 'image', line }),
            }),
          };
    return {
      ...image,
      artifactDir: result.artifactDir,
      metricsFile: result.metricsFile,
      python: path.join(result.environment.dir, 'bin', 'python'),
      logFile: result.logFile,
      durationMs: result.durationMs,
      tests: result.tests,
      environmentReused: result.environment.reused,
      limits: result.limits,
      tags: result.tags,
    };
  }

  return {
    async cloneModelRepository(input: { buildId: string; buildSpec: BuildSpec; automation: string; modelId: string }): Promise<CloneOutput> {
      return withHeartbeat(async (progress) => {
        const cluster = onCluster(input.buildId, progress);
        if (cluster) return resolveCloneOnCluster(input, cluster);
        const location = allowedGitLocation(input.buildSpec.git_uri, deps.gitPolicy);
        const secretName = input.buildSpec.git_access_token_secret;
        const token = await gitToken(deps.secrets, secretName, location, input, deps.gitPolicy);
        const result = await inSlot(deps.slots?.clones, 'clone', progress, () =>
          cloneRepository({
            repository: location.repository,
            subdirectory: location.subdirectory,
            branch: input.buildSpec.git_branch,
            token,
            tokenSecretName: secretName,
            destination: path.join(buildDirOf(deps, input.buildId), 'src'),
            onProgress: (details) => progress({ step: 'clone', ...details }),
          }),
        );
        return { commit: result.commit, modelDir: result.modelDir };
      });
    },

    /**
     * With `metrics`, the build also reads what it logged once it ends and returns it when that holds
     * `metrics.metricName`: one step (a dispatch and a workflow task) less for the run. With `decide` as
     * well, it decides a condition that needs only those metrics (a static threshold): one step less again.
     */
    async buildModel(input: {
      buildId: string;
      automation: string;
      modelId: string;
      modelDir: string;
      buildSpec: BuildSpec;
      metrics?: { metricName?: string };
      decide?: { condition: DeploymentCondition };
    }): Promise<BuildOutput> {
      return withHeartbeat(async (progress) => {
        const output = await runModelBuild(input, progress);
        if (!input.metrics) return output;
        const metrics = await metricsWhenBuilt(deps.metricSource, { buildId: input.buildId, metricsFile: output.metricsFile }, input.metrics.metricName);
        if (!metrics) return output;
        const condition = input.decide ? await decideFromMetrics(input.decide.condition, metrics) : undefined;
        return { ...output, metrics, ...(condition ? { condition } : {}) };
      });
    },

    async collectMetrics(input: { buildId: string; metricsFile: string; metricName?: string }): Promise<Record<string, number>> {
      return withHeartbeat(async (progress) => {
        const build = { buildId: input.buildId, metricsFile: input.metricsFile };
        if (!input.metricName) return deps.metricSource.read(build);
        return waitForMetric({
          source: deps.metricSource,
          build,
          name: input.metricName,
          timeoutMs: minutes(deps.limits.metricWaitMinutes),
          onPoll: (metrics) => progress({ step: 'metrics', seen: Object.keys(metrics) }),
        });
      });
    },

    /** Which secrets a run of the automation would not get, and why (for `refit plan --run`). */
    async planSecrets(input: { automation: AutomationModel }): Promise<{ checked: string[]; problems: string[] }> {
      const secrets = secretsOfRun(input.automation, { plainHttpHosts: deps.gitPolicy.allowHttpHosts });
      return { checked: [...new Set(secrets.map((secret) => secret.name))], problems: await checkRunSecrets(deps.secrets, secrets) };
    },

    /** The commit a build would clone now (for `refit plan --run`). */
    async resolveCommit(input: { buildSpec: BuildSpec; automation: string; modelId: string }): Promise<string> {
      const location = allowedGitLocation(input.buildSpec.git_uri, deps.gitPolicy);
      const secretName = input.buildSpec.git_access_token_secret;
      return remoteHead({
        repository: location.repository,
        branch: input.buildSpec.git_branch,
        token: await gitToken(deps.secrets, secretName, location, input, deps.gitPolicy),
        tokenSecretName: secretName,
      });
    },
  };
}

/** Runs `work` in one of `slots` (when the worker limits them), telling the run it waits while it does. */
function inSlot<T>(slots: Slots | undefined, step: 'clone' | 'build', progress: (details: unknown) => void, work: () => Promise<T>): Promise<T> {
  if (!slots) return work();
  return slots.run(work, {
    signal: Context.current().cancellationSignal,
    onWait: (ahead) => progress({ step, waiting: `for a ${step} slot of this worker (${slots.size} at once; ${ahead} waiting ahead)` }),
  });
}
