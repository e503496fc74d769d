import { runCli } from '../../src/cli/main';
import type { CliIO } from '../../src/cli/output';

/** Runs the CLI in-process and captures what it prints. */
export async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, isTTY: false };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** The last stdout line parsed as JSON (what `--json` promises). */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}
