// The baseline of the dynamic-threshold figure: a plain Node script that reads the CSV the logs came from
// and computes the same aggregate as the threshold's SQL, in one streaming pass.
// Usage: node plainAggregate.js <file.csv> <avg|p95>   (prints the number)
import { createReadStream } from 'node:fs';
import { MODEL_ID, WINDOW_START } from './logShape.js';

const [file, aggregate] = process.argv.slice(2);
if (!file || (aggregate !== 'avg' && aggregate !== 'p95')) {
  console.error('usage: plainAggregate <file.csv> <avg|p95>');
  process.exit(2);
}

let sum = 0;
let count = 0;
let kept = new Float64Array(1 << 16);
let pending = '';
let header = true;

/** ts,model_id,score,latency_ms; timestamps are fixed-width, so comparing the text compares the times. */
function take(line: string): void {
  if (header) {
    header = false;
    return;
  }
  const first = line.indexOf(',');
  const second = line.indexOf(',', first + 1);
  if (line.slice(0, first) < WINDOW_START || line.slice(first + 1, second) !== MODEL_ID) return;
  const third = line.indexOf(',', second + 1);
  if (aggregate === 'avg') {
    sum += Number(line.slice(second + 1, third));
    count++;
    return;
  }
  if (count === kept.length) {
    const grown = new Float64Array(kept.length * 2);
    grown.set(kept);
    kept = grown;
  }
  kept[count++] = Number(line.slice(third + 1));
}

for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
  const lines = (pending + (chunk as string)).split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) if (line) take(line);
}
if (pending) take(pending);

if (aggregate === 'avg') {
  console.log(count ? sum / count : 'null');
} else {
  // percentile_cont: linear interpolation between the two nearest ranks, as SQL defines it.
  const sorted = kept.subarray(0, count).sort();
  const position = (count - 1) * 0.95;
  const below = Math.floor(position);
  const low = sorted[below]!;
  console.log(count ? low + (sorted[Math.ceil(position)]! - low) * (position - below) : 'null');
}
