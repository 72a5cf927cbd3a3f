// The process that owns a local cluster: started by localClusterProcess.ts with its options as one JSON line on
// stdin, it starts the cluster, prints {"ready": LocalClusterInfo} (or {"error": message}) as one line on
// stdout, and stops it, undoing the node's changes to the machine, when its stdin closes (its owner exited,
// even by SIGKILL) or it gets SIGTERM, SIGINT or SIGHUP. It is the node's tether: the servers run under
// tethers of their own, but only a process that outlives them can unmount, remove the bridge and restore sysctls.
import { readJsonLineFromStdin } from '../../platform/processes.js';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from './localCluster.js';

let cluster: LocalCluster | undefined;
// Set once the options are read; stop() waits for a start under way, so that what it made is undone.
const start: { promise?: Promise<LocalCluster> } = {};
let stopping = false;

function say(message: string): void {
  process.stderr.write(`local cluster: ${message}\n`);
}

async function stop(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`stopping (${why})`);
  try {
    if (start.promise) await start.promise.catch(() => undefined);
    const problems = cluster ? await cluster.stop() : [];
    if (problems.length) {
      say(`stopped, but could not undo everything:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    say('stopped; nothing of the node is left on this machine');
    process.exit(0);
  } catch (err) {
    say(`stopping failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
}

process.stdin.on('end', () => void stop('its owner is gone'));
process.stdin.on('close', () => void stop('its owner is gone'));
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));

const options = await readJsonLineFromStdin<LocalClusterOptions>();
process.stdin.resume();
start.promise = startLocalCluster({ ...options, log: say });
try {
  cluster = await start.promise;
  const { stop: _stop, ...info } = cluster;
  process.stdout.write(`${JSON.stringify({ ready: info })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  say(`could not start: ${(err as Error).message}`);
  process.exit(1);
}
