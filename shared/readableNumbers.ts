/** Long decimals in a sentence to 4 significant digits (0.9888888888888889 → 0.9889), for people; JSON keeps them whole. */
export function readableNumbers(text: string): string {
  return text.replace(/\d+\.\d{5,}/g, (number) => String(Number(Number(number).toPrecision(4))));
}
