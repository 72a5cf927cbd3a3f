#!/usr/bin/env node
// The `refit` command line.
import { Command, CommanderError } from 'commander';
import { automationJsonSchema } from '../spec/jsonSchema.js';
import { validateCommand } from './commands/validate.js';
import { EXIT } from './output.js';

const program = new Command()
  .name('refit')
  .description('Re-train and re-deploy ML models automatically, durably, on Temporal.')
  .showHelpAfterError()
  .exitOverride();

program
  .command('validate')
  .description('check automation definitions (YAML or TypeScript files, or folders of them) and summarise each')
  .argument('<paths...>', 'files or folders')
  .option('--json', 'print the result as JSON')
  .action(async (paths: string[], options: { json?: boolean }) => {
    process.exitCode = await validateCommand(paths, options);
  });

program
  .command('schema')
  .description('print the JSON Schema of an automation definition (for YAML completion in editors)')
  .action(() => {
    console.log(JSON.stringify(automationJsonSchema(), null, 2));
  });

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    console.error(`refit: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = EXIT.failed;
  }
}
