/**
 * How CLI commands report: human-readable lines on stderr, the final result on stdout (as one
 * JSON object on the last line with `--json`).
 */

/** Where a command writes; injectable so tests can capture it. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars only then). */
  isTTY: boolean;
}

export const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stderr.isTTY),
};

/** Prints a result: one JSON line with `--json`, else `key: value` lines. */
export function printResult(io: CliIO, result: Record<string, unknown>, json: boolean): void {
  if (json) {
    io.stdout(`${JSON.stringify(result)}\n`);
    return;
  }
  for (const [key, value] of Object.entries(result)) {
    const text = typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(4) :
      typeof value === 'object' ? JSON.stringify(value) : String(value);
    io.stdout(`${key}: ${text}\n`);
  }
}
