/**
 * Formats a shape for error messages: an unknown first dimension reads `batch`, any other
 * unknown dimension `null`.
 */
export function shapeText(shape: ReadonlyArray<number | null>): string {
  return `[${shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : 'null') : String(d))).join(', ')}]`;
}

/** True when two dimensions disagree (an unknown dimension agrees with anything). */
export function dimsDiffer(a: number | null | undefined, b: number | null | undefined): boolean {
  return a != null && b != null && a !== b;
}
