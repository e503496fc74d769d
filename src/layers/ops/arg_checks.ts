/** Checks of numeric layer options, with errors naming the option and the layer. */

/** Checks a positive integer option. */
export function checkPositiveInt(value: unknown, name: string, caller: string): void {
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw new Error(`'${name}' passed to '${caller}' must be a positive integer, got ` +
      String(value));
  }
}

/** Checks a dropout rate in [0, 1). */
export function checkRate(value: unknown, name: string, caller: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new Error(`'${name}' passed to '${caller}' must be a number in [0, 1), got ` +
      String(value));
  }
}
