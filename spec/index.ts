// Refit's automation model: the builders users write, the schemas, validation and loading.
export * from './builders.js';
export * as schemas from './schema/index.js';
export type { AutomationInput, AutomationModel } from './schema/automation.js';
export { validateAutomation, formatPath, describeProblem, type Problem, type ValidationResult } from './validate.js';
export { loadDefinitions, type LoadResult, type LoadedAutomation, type LocatedProblem } from './loader.js';
export { automationJsonSchema } from './jsonSchema.js';
export { parseGitUri, type GitLocation } from './gitUri.js';
export { parseThreshold, type Threshold } from './threshold.js';
export { parseInterval } from './interval.js';
export { readCron, nextFireTimes } from './cron.js';
export { summarizeAutomation } from './summary.js';
export { toYaml, parseYamlDefinitions } from './yaml.js';
