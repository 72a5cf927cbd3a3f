import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import { baseEnvironment } from '../../process/baseEnvironment.js';
import { acquireLock } from '../../process/fileLock.js';
import { describeInterpreter } from '../../build/pythonEnvironment.js';
import { compileSdkBytecode } from '../../build/sdkBytecode.js';
import { openSandbox, sandboxSettingsFromEnvironment, type SandboxSettings } from '../../process/sandbox.js';
import { resolveEnvVars } from '../../secrets/resolveEnvVars.js';
import type { SecretStore } from '../../secrets/secretStore.js';
import type { DeployContext, DeploymentResult, DeploymentTarget, ServingStatus } from '../deploymentTarget.js';
import type { CanaryTarget, DeploymentRequest } from '../../../shared/deployment.js';
import { isServing, startPod, stopPod, waitUntilReady } from './pods.js';
import { ensureRouter, isRouter, reloadRouter, routerUrl } from './routerProcess.js';
import { modelFolder, readState, STATE_FILE, writeState, type CanaryState, type DeployedBuild, type ModelServingState, type Pod } from './servingState.js';

export interface LocalTargetOptions {
  /** $REFIT_HOME/deployments */
  deploymentsRoot: string;
  /** Folder holding the refit_sdk package (the serving wrapper). */
  sdkPythonPath: string;
  secrets: SecretStore;
  cgroupRoot?: string;
  /** How model servers are confined (as builds are); the worker's settings when absent. */
  sandbox?: SandboxSettings;
  /** The interpreter model environments are made from (REFIT_PYTHON): a confined server needs to see it. */
  python?: string;
}

const HISTORY_KEPT = 5;

/**
 * Serves models on this machine: `number_of_pods` processes per variation, each running the Open
 * Inference Protocol server of refit_sdk, behind one router per model. A new build's pods must all be
 * ready before the router switches to them; until then (and if they never are) the previous build serves.
 */
export class LocalDeploymentTarget implements DeploymentTarget {
  readonly name = 'local';

  constructor(private readonly options: LocalTargetOptions) {}

  async apply(request: DeploymentRequest, context: DeployContext = {}): Promise<DeploymentResult> {
    return this.switchTo(request.modelId, request.environment, this.deployable(request), context);
  }

  async plan(request: DeploymentRequest): Promise<string[]> {
    const spec = request.spec;
    const folder = modelFolder(this.options.deploymentsRoot, request.environment, request.modelId);
    const current = readState(folder, request.modelId, request.environment).variations[spec.variation_name];
    const shape = `${spec.number_of_pods} pod(s) × ${spec.cpu_fraction} CPU, ${spec.memory}`;
    const where = `variation "${spec.variation_name}" of ${request.modelId}${request.environment ? ` in ${request.environment}` : ''}`;
    return [
      current
        ? `replace build ${current.buildId} (${current.pods.length} pod(s)) serving ${where} with the new build (${shape}), once all its pods answer ready`
        : `start serving ${where} with the new build (${shape}); nothing serves it now`,
      ...notesFor({ ...request, artifactDir: '', deployedAt: '' }),
    ];
  }

  async rollback(target: { modelId: string; environment: string; variation: string; buildId: string }): Promise<DeploymentResult> {
    const folder = modelFolder(this.options.deploymentsRoot, target.environment, target.modelId);
    const variation = readState(folder, target.modelId, target.environment).variations[target.variation];
    if (variation?.buildId === target.buildId) return this.switchTo(target.modelId, target.environment, variation, {});
    const earlier = variation?.history.find((entry) => entry.buildId === target.buildId);
    if (!earlier) {
      throw new RefitError(
        ErrorTypes.DeploymentFailed,
        `build ${target.buildId} never served variation "${target.variation}" of ${target.modelId}, so it cannot be put back`,
      );
    }
    return this.switchTo(target.modelId, target.environment, { ...earlier, deployedAt: new Date().toISOString() }, {});
  }

  async status(modelId: string, environment: string): Promise<ServingStatus | undefined> {
    const folder = modelFolder(this.options.deploymentsRoot, environment, modelId);
    if (!existsSync(path.join(folder, STATE_FILE))) return undefined;
    return describe(readState(folder, modelId, environment));
  }

  async remove(modelId: string, environment: string, variation?: string): Promise<void> {
    const folder = modelFolder(this.options.deploymentsRoot, environment, modelId);
    const release = await acquireLock(path.join(folder, '.lock'), 60_000, `the deployment of ${modelId}`);
    try {
      const state = readState(folder, modelId, environment);
      const names = variation ? [variation] : Object.keys(state.variations);
      const stopping = [...(state.pending ?? [])];
      for (const name of names) {
        const removed = state.variations[name];
        if (removed) stopping.push(...removed.pods, ...(removed.canary?.pods ?? []));
        delete state.variations[name];
      }
      state.pending = undefined;
      const routerRunning = state.router !== undefined && isRouter(state.router.pid);
      if (Object.keys(state.variations).length === 0) {
        if (routerRunning) process.kill(state.router!.pid, 'SIGTERM');
        state.router = undefined;
      }
      writeState(folder, state);
      // The router stops sending requests to the removed pods before they stop, so none is answered 502.
      if (state.router && routerRunning) await reloadRouter(folder, state.router);
      await Promise.all(stopping.map((pod) => stopPod(pod)));
    } finally {
      release();
    }
  }

  /** A new build beside the variation's current one, taking `percent` of its requests. */
  async startCanary(request: DeploymentRequest, percent: number, context: DeployContext = {}): Promise<DeploymentResult> {
    const build = this.deployable(request);
    const variationName = build.spec.variation_name;
    return this.locked(request.modelId, request.environment, async (folder, state) => {
      const current = state.variations[variationName];
      if (!current) {
        // Nothing serves this variation yet: there is nothing to compare against, so it takes all traffic.
        const result = await this.install(folder, state, request.modelId, request.environment, build, context);
        return { ...result, notes: [...result.notes, 'no build served this variation before, so the canary took all traffic at once'] };
      }
      const canary = current.canary;
      let replaced: Pod[] = [];
      if (canary?.buildId === build.buildId && canary.pods.every((pod) => isServing(pod.pid))) {
        canary.weight = percent;
      } else {
        const pods = await this.startReadyPods(folder, state, request.modelId, build, context, current.buildId);
        replaced = canary?.pods ?? [];
        current.canary = { ...build, pods, weight: percent };
      }
      writeState(folder, state);
      await ensureRouter(folder, state);
      // A canary it replaces keeps its share until the router sends that share to the new one.
      await Promise.all(replaced.map((pod) => stopPod(pod)));
      return {
        modelId: request.modelId,
        environment: request.environment,
        variation: variationName,
        buildId: build.buildId,
        previousBuildId: current.buildId,
        url: routerUrl(state),
        changed: true,
        notes: notesFor(build),
      };
    });
  }

  async setCanaryWeight(target: CanaryTarget, percent: number): Promise<void> {
    await this.locked(target.modelId, target.environment, async (folder, state) => {
      const canary = this.canaryOf(state, target);
      canary.weight = percent;
      writeState(folder, state);
      await ensureRouter(folder, state);
    });
  }

  /** The canary becomes the variation's build; the build it ran beside stops. A repeat changes nothing. */
  async promoteCanary(target: CanaryTarget): Promise<DeploymentResult> {
    return this.locked(target.modelId, target.environment, async (folder, state) => {
      const variation = state.variations[target.variation];
      if (variation?.buildId === target.buildId && !variation.canary) {
        return {
          modelId: target.modelId,
          environment: target.environment,
          variation: target.variation,
          buildId: target.buildId,
          previousBuildId: variation.history[0]?.buildId,
          url: routerUrl(state),
          changed: false,
          notes: [],
        };
      }
      const { pods, weight: _weight, ...build } = this.canaryOf(state, target);
      return this.switchVariation(folder, state, target.modelId, target.environment, build, pods);
    });
  }

  /** The canary stops and the build it ran beside takes all traffic again. A repeat changes nothing. */
  async abortCanary(target: CanaryTarget): Promise<void> {
    await this.locked(target.modelId, target.environment, async (folder, state) => {
      const variation = state.variations[target.variation];
      if (variation?.canary?.buildId !== target.buildId) return;
      const pods = variation.canary.pods;
      variation.canary = undefined;
      writeState(folder, state);
      await ensureRouter(folder, state);
      await Promise.all(pods.map((pod) => stopPod(pod)));
    });
  }

  private canaryOf(state: ModelServingState, target: CanaryTarget): CanaryState {
    const canary = state.variations[target.variation]?.canary;
    if (canary?.buildId !== target.buildId)
      throw new RefitError(ErrorTypes.DeploymentFailed, `build ${target.buildId} is not the canary of variation "${target.variation}" of ${target.modelId}`);
    return canary;
  }

  private async switchTo(modelId: string, environment: string, build: DeployedBuild, context: DeployContext): Promise<DeploymentResult> {
    return this.locked(modelId, environment, (folder, state) => this.install(folder, state, modelId, environment, build, context));
  }

  /** Starts the build's pods and, once all are ready, makes it the variation's build. */
  private async install(
    folder: string,
    state: ModelServingState,
    modelId: string,
    environment: string,
    build: DeployedBuild,
    context: DeployContext,
  ): Promise<DeploymentResult> {
    const current = state.variations[build.spec.variation_name];
    if (current?.buildId === build.buildId && current.pods.length === build.spec.number_of_pods && current.pods.every((pod) => isServing(pod.pid))) {
      writeState(folder, state);
      await ensureRouter(folder, state);
      return {
        modelId,
        environment,
        variation: build.spec.variation_name,
        buildId: build.buildId,
        previousBuildId: current.history[0]?.buildId,
        url: routerUrl(state),
        changed: false,
        notes: notesFor(build),
      };
    }
    const pods = await this.startReadyPods(folder, state, modelId, build, context, current?.buildId);
    context.onProgress?.('all pods ready; switching traffic');
    return this.switchVariation(folder, state, modelId, environment, build, pods);
  }

  /** Points the router at `pods` of `build`, then stops the pods that served the variation before. */
  private async switchVariation(
    folder: string,
    state: ModelServingState,
    modelId: string,
    environment: string,
    build: DeployedBuild,
    pods: Pod[],
  ): Promise<DeploymentResult> {
    const variationName = build.spec.variation_name;
    const current = state.variations[variationName];
    const history = current
      ? [withoutPods(current), ...current.history.filter((entry) => entry.buildId !== current.buildId && entry.buildId !== build.buildId)].slice(
          0,
          HISTORY_KEPT,
        )
      : [];
    state.variations[variationName] = { ...withoutPods(build), pods, history };
    writeState(folder, state);
    await ensureRouter(folder, state);
    // Only now that the router sends traffic to the new pods do the old ones stop (after draining).
    const replaced =
      current && current.buildId !== build.buildId
        ? [...current.pods, ...(current.canary && current.canary.buildId !== build.buildId ? current.canary.pods : [])]
        : [];
    await Promise.all(replaced.map((pod) => stopPod(pod)));
    return {
      modelId,
      environment,
      variation: variationName,
      buildId: build.buildId,
      previousBuildId: current?.buildId,
      url: routerUrl(state),
      changed: true,
      notes: notesFor(build),
    };
  }

  /**
   * Starts `number_of_pods` serving processes of a build and waits until all answer ready; if they do
   * not in time, stops them and fails (the caller's previous build keeps serving). Pods are recorded as
   * pending while they start, so a retry after a crash stops them first.
   */
  private async startReadyPods(
    folder: string,
    state: ModelServingState,
    modelId: string,
    build: DeployedBuild,
    context: DeployContext,
    servingBuildId: string | undefined,
  ): Promise<Pod[]> {
    const env = await this.environmentFor(modelId, build);
    const sandbox = await openSandbox(this.options.sandbox ?? sandboxSettingsFromEnvironment(), path.join(folder, 'sandbox'));
    const interpreter = await describeInterpreter(this.options.python ?? process.env.REFIT_PYTHON ?? 'python3');
    // With the worker's interpreter, never the build's environment: what its dependencies installed runs at each of
    // that interpreter's starts (a .pth file), so it starts only confined, as the model server below.
    await compileSdkBytecode(interpreter.executable, this.options.sdkPythonPath);
    context.onProgress?.(`starting ${build.spec.number_of_pods} pod(s) of build ${build.buildId}`);
    const deadline = Date.now() + build.spec.deployment_process_timeout_limit * 1000;
    const started: (Pod & { logFile: string })[] = [];
    try {
      for (let index = 0; index < build.spec.number_of_pods; index++) {
        started.push(
          await startPod({
            modelId,
            variation: build.spec.variation_name,
            buildId: build.buildId,
            index,
            artifactDir: build.artifactDir,
            python: build.python,
            sdkPythonPath: this.options.sdkPythonPath,
            spec: build.spec,
            env,
            logDir: path.join(folder, 'logs'),
            cgroupRoot: this.options.cgroupRoot,
            sandbox,
            interpreterPrefixes: interpreter.prefixes,
          }),
        );
        state.pending = started.map(({ logFile: _log, ...pod }) => pod);
        writeState(folder, state);
      }
      await Promise.all(started.map((pod) => waitUntilReady(pod, modelId, deadline, context.signal)));
    } catch (err) {
      await Promise.all(started.map((pod) => stopPod(pod)));
      state.pending = undefined;
      writeState(folder, state);
      const keeps = servingBuildId ? `build ${servingBuildId} keeps serving variation "${build.spec.variation_name}"` : 'nothing was serving it before';
      throw new RefitError(
        ErrorTypes.DeploymentFailed,
        `build ${build.buildId} of ${modelId} was not deployed (rolled back: ${keeps}): ${(err as Error).message}`,
        { cause: err },
      );
    }
    state.pending = undefined;
    return started.map(({ logFile: _log, ...pod }) => pod);
  }

  /** One deployment change of a model at a time; pods an interrupted change left behind are stopped first. */
  private async locked<T>(modelId: string, environment: string, work: (folder: string, state: ModelServingState) => Promise<T>): Promise<T> {
    const folder = modelFolder(this.options.deploymentsRoot, environment, modelId);
    mkdirSync(path.join(folder, 'logs'), { recursive: true });
    const release = await acquireLock(path.join(folder, '.lock'), 60_000, `another deployment of ${modelId}`);
    try {
      const state = readState(folder, modelId, environment);
      await Promise.all((state.pending ?? []).map((pod) => stopPod(pod)));
      state.pending = undefined;
      return await work(folder, state);
    } finally {
      release();
    }
  }

  /** The build as this target keeps it: its artifact copied beside the model's state. */
  private deployable(request: DeploymentRequest): DeployedBuild {
    const folder = modelFolder(this.options.deploymentsRoot, request.environment, request.modelId);
    const artifactDir = path.join(folder, 'builds', request.buildId, 'artifact');
    if (!existsSync(path.join(artifactDir, 'model.json'))) {
      mkdirSync(path.dirname(artifactDir), { recursive: true });
      cpSync(request.artifactDir, artifactDir, { recursive: true });
    }
    return {
      buildId: request.buildId,
      automation: request.automation,
      artifactDir,
      python: request.python,
      spec: request.spec,
      metrics: request.metrics,
      deployedAt: new Date().toISOString(),
    };
  }

  private async environmentFor(modelId: string, build: DeployedBuild): Promise<Record<string, string>> {
    const whom = { automation: build.automation ?? modelId, modelId, field: 'deployment_spec.env_vars' };
    return { ...baseEnvironment(), ...(await resolveEnvVars(build.spec.env_vars, this.options.secrets, whom)) };
  }
}

function notesFor(build: DeployedBuild): string[] {
  const notes: string[] = [];
  if (build.spec.auto_scale_config) notes.push(`auto_scale_config applies on Kubernetes; locally ${build.spec.number_of_pods} pod(s) run`);
  if (build.spec.custom_iam_role_arn) notes.push('custom_iam_role_arn applies on Kubernetes (service-account annotation) and is not used locally');
  return notes;
}

function withoutPods(variation: DeployedBuild & { pods?: Pod[]; history?: DeployedBuild[] }): DeployedBuild {
  const { buildId, artifactDir, python, spec, metrics, deployedAt } = variation;
  return { buildId, artifactDir, python, spec, metrics, deployedAt };
}

function describe(state: ModelServingState): ServingStatus {
  return {
    modelId: state.modelId,
    environment: state.environment,
    url: state.router && isRouter(state.router.pid) ? routerUrl(state) : undefined,
    variations: Object.fromEntries(
      Object.entries(state.variations).map(([name, variation]) => [
        name,
        {
          buildId: variation.buildId,
          metrics: variation.metrics,
          deployedAt: variation.deployedAt,
          pods: variation.pods.map((pod) => ({ name: `pid ${pod.pid}`, port: pod.port, alive: isServing(pod.pid) })),
          previousBuildIds: variation.history.map((entry) => entry.buildId),
        },
      ]),
    ),
  };
}

// Tests and the demo clean up through the target's module.
export { stopAllLocalServing } from './stopAll.js';
