/** The activities of the bare baseline workflow: they return at once. */
export const noopActivities = {
  async noop(step: number): Promise<number> {
    return step;
  },
};

export type NoopActivities = typeof noopActivities;
