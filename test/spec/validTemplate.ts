// A complete, valid automation input that tests copy and change one thing in.
export function validInput(): Record<string, unknown> {
  return {
    name: 'retrain_my_model',
    model_id: 'my-model-id',
    trigger: { type: 'ScheduledTrigger', cron: '0 0 * * 0' },
    action: {
      type: 'QwakBuildDeploy',
      build_spec: {
        git_uri: 'https://github.com/org_id/repository_name.git#dir_1/dir_2',
        git_access_token_secret: 'token_secret_name',
        git_branch: 'main',
        main_dir: 'main',
        tags: ['prod'],
        env_vars: ['key1=val1', 'key2=val2', 'key3=val3'],
      },
      deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
      deployment_spec: {
        number_of_pods: 1,
        cpu_fraction: 2.0,
        memory: '2Gi',
        variation_name: 'B',
        auto_scale_config: {
          min_replica_count: 1,
          max_replica_count: 10,
          triggers: [{ query_spec: { aggregation_type: 'max', metric_type: 'latency', time_period: 4 }, threshold: 60 }],
        },
      },
    },
  };
}

type Path = (string | number)[];

/** Sets (or, with `undefined`, deletes) the value at a dotted path such as "action.build_spec.tags.0". */
export function withChange(input: Record<string, unknown>, dotted: string, value: unknown): Record<string, unknown> {
  const path: Path = dotted.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  let node = input as Record<string | number, unknown>;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return input;
}
