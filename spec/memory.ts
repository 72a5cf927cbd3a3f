// Memory sizes as Kubernetes quantities with binary units. A plain number means MiB, as the seed's
// platform does. The canonical form uses the largest unit that divides the size exactly.

const UNITS = [
  ['Ti', 1024 * 1024],
  ['Gi', 1024],
  ['Mi', 1],
] as const;

/** MiB in a memory value, or an error message naming what to write instead. */
export function parseMemory(value: string | number): { mib: number } | { error: string } {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) return { error: `${value} is not a whole, positive number of MiB` };
    return { mib: value };
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti)?\s*$/.exec(value);
  if (!match) {
    const decimal = /^\s*(\d+(?:\.\d+)?)\s*(K|M|G|T)B?\s*$/i.exec(value);
    const hint = decimal ? ` (binary units only: write "${decimal[1]}${decimal[2]!.toUpperCase()}i")` : ' (e.g. "512Mi", "2Gi", or a number of MiB)';
    return { error: `"${value}" is not a memory size${hint}` };
  }
  const amount = Number(match[1]);
  const unit = match[2] ?? 'Mi';
  const mib = unit === 'Ki' ? amount / 1024 : amount * UNITS.find(([name]) => name === unit)![1];
  if (!Number.isInteger(mib) || mib <= 0) return { error: `"${value}" is not a whole, positive number of MiB` };
  return { mib };
}

export function formatMemory(mib: number): string {
  const [unit, size] = UNITS.find(([, size]) => mib % size === 0)!;
  return `${mib / size}${unit}`;
}
