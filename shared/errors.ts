// Failures that retrying cannot fix: each names what the user must change. Activities raise them as
// non-retryable ApplicationFailures with this type; everything else is retried with backoff.

export const ErrorTypes = {
  InvalidDefinition: 'RefitInvalidDefinition',
  SecretNotFound: 'RefitSecretNotFound',
  SecretOutOfScope: 'RefitSecretOutOfScope',
  GitAuthenticationFailed: 'RefitGitAuthenticationFailed',
  GitRepositoryNotFound: 'RefitGitRepositoryNotFound',
  GitBranchNotFound: 'RefitGitBranchNotFound',
  ModelFolderNotFound: 'RefitModelFolderNotFound',
  DependencyInstallFailed: 'RefitDependencyInstallFailed',
  TestsFailed: 'RefitTestsFailed',
  BuildFailed: 'RefitBuildFailed',
  MetricNotFound: 'RefitMetricNotFound',
  MetricSourceRejected: 'RefitMetricSourceRejected',
  ThresholdQueryInvalid: 'RefitThresholdQueryInvalid',
  DeploymentFailed: 'RefitDeploymentFailed',
  /** The worker's own setup cannot do what the run needs (its operator must act, e.g. install bubblewrap). */
  WorkerSetup: 'RefitWorkerSetup',
  /** A step on a worker's own queue waited past its deadline for that worker. */
  WorkerLost: 'RefitWorkerLost',
  /** A run was cancelled. */
  Cancelled: 'RefitRunCancelled',
} as const;

export type ErrorType = (typeof ErrorTypes)[keyof typeof ErrorTypes];

export const NON_RETRYABLE_ERROR_TYPES: string[] = Object.values(ErrorTypes);

/** A failure of a plain (Temporal-free) function that retrying will not fix; activities convert it. */
export class RefitError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = type;
  }
}
