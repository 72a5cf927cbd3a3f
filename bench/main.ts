// `make bench`: runs every figure against real servers it starts itself, writes bench/results/latest.json
// and latest.md, and stops everything it started, also when a figure fails or the run is interrupted.
// Options: --only overhead,clone (a subset), --quick (few repetitions, for trying the bench out); both
// write bench/results/partial.* instead. --budget-minutes (default 16): extra repetitions stop there.
// --keep-state keeps the temp folder for debugging.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../platform/paths.js';
import { FIGURES, type FigureName } from './figures/index.js';
import { Budget } from './lib/budget.js';
import { cleanupAll, cleanupOnSignalsAndErrors } from './lib/cleanup.js';
import { describeMachine } from './lib/machine.js';
import { copyIntoReadme, writeResults, type FigureResult } from './lib/report.js';
import { startStack } from './lib/stack.js';
import { postgresBinDir } from './lib/tools.js';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'keep-state': { type: 'boolean', default: false },
    'budget-minutes': { type: 'string', default: '16' },
  },
});
const names = Object.keys(FIGURES) as FigureName[];
const selected = flags.only ? (flags.only.split(',') as FigureName[]) : names;
for (const name of selected) if (!names.includes(name)) throw new Error(`--only: no figure "${name}"; the figures are ${names.join(', ')}`);

const started = Date.now();
const budget = new Budget(Number(flags['budget-minutes']));
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
cleanupOnSignalsAndErrors();
let failed = false;
try {
  const stack = await startStack({ keepState: flags['keep-state'] });
  console.log(`bench: Temporal dev server at ${stack.server.address}, git server at ${stack.git.url}, state in ${stack.stateDir} (${elapsed()})`);
  const machine = await describeMachine({ temporal: stack.temporalBin, python: stack.python, postgresBin: await postgresBinDir().catch(() => undefined) });
  const figures: FigureResult[] = [];
  for (const name of selected) {
    const figureStarted = Date.now();
    console.log(`bench: ${name} ...`);
    let result: FigureResult;
    try {
      result = { ...(await FIGURES[name](stack, { quick: flags.quick, budget })), durationS: (Date.now() - figureStarted) / 1000 };
    } catch (err) {
      failed = true;
      console.error(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}`);
      result = { id: name, title: name, method: '', tables: [], notes: [], error: (err as Error).message, durationS: (Date.now() - figureStarted) / 1000 };
    }
    figures.push(result);
    console.log(`bench: ${name} done in ${Math.round(result.durationS)} s (${elapsed()} in all)`);
  }
  const command = `node dist/bench/main.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const loadAverage = os.loadavg().map((value) => Math.round(value * 100) / 100);
  const results = {
    generated_at: new Date().toISOString(),
    duration_s: (Date.now() - started) / 1000,
    command,
    machine,
    load_average_at_end: loadAverage,
    figures,
  };
  const complete = !flags.quick && !flags.only;
  const benchDir = path.join(packageRoot(), 'bench');
  const written = writeResults(path.join(benchDir, 'results'), results, complete ? 'latest' : 'partial');
  if (complete) copyIntoReadme(path.join(benchDir, 'README.md'), results);
  console.log(`bench: wrote ${written.json} and ${written.markdown}${complete ? ', and the tables into bench/README.md' : ''} (${elapsed()})`);
} catch (err) {
  failed = true;
  console.error(`bench: ${(err as Error).stack ?? String(err)}`);
} finally {
  await cleanupAll();
}
process.exit(failed ? 1 : 0);
