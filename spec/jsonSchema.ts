import { z } from 'zod';
import { Automation } from './schema/automation.js';

/** The JSON Schema of one automation definition, as written in YAML (defaults make fields optional). */
export function automationJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(Automation, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
    $id: 'https://refit.dev/schema/automation.schema.json',
    title: 'Refit automation',
    description: 'One automation: a trigger and a build-and-deploy action (see the README).',
  };
}
