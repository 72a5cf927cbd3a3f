import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

/** Colours only on a terminal, and never with NO_COLOR set. */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return stream.isTTY && !process.env.NO_COLOR ? styleText(style, text) : text;
}

export const EXIT = {
  ok: 0,
  /** The command ran and found problems (invalid definitions, a failed run). */
  failed: 1,
  /** The command line itself was wrong. */
  usage: 2,
  /** Temporal or another service could not be reached. */
  unavailable: 3,
} as const;

export { readableNumbers } from '../shared/readableNumbers.js';
