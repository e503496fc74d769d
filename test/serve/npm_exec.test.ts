/**
 * `npx duet-tf serve` (npm exec) stopped with SIGTERM: npm signals the shell it ran the command
 * in, which dies without passing the signal on. The server must stop anyway (it watches for its
 * parent going away), not keep listening as an orphan. Run through `npm exec` itself, offline,
 * with the CLI from source.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { saveDuet } from '../../src/wrap/file_io';
import { tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-npm-exec-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const refuses = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(false); });
  socket.once('error', () => resolve(true));
});

describe('npm exec duet-tf serve, then SIGTERM to npm', () => {
  it('the server stops too (it does not keep listening, orphaned)', async () => {
    const dir = path.join(root, 'model');
    await saveDuet(tinyDuet({ seed: 51 }).duet, dir);
    const npm = spawn('npm', ['exec', '--offline', '--', process.execPath, '--import', 'tsx',
      path.join(REPO, 'src/cli/bin.ts'), 'serve', '--model-dir', dir, '--port', '0', '--backend', 'cpu'],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    npm.stderr!.setEncoding('utf8');
    npm.stderr!.on('data', (d: string) => { log += d; });
    let port = 0;
    try {
      const end = Date.now() + 60_000;
      while (port === 0) {
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        if (m !== null) port = Number(m[1]);
        else if (Date.now() > end || npm.exitCode !== null) throw new Error(`the server did not start:\n${log}`);
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(await refuses(port)).toBe(false);
      npm.kill('SIGTERM');
      const stopBy = Date.now() + 30_000;
      while (!(await refuses(port)) && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
      expect(await refuses(port), `still listening on ${port} after npm got SIGTERM; log:\n${log}`).toBe(true);
      expect(log).toMatch(/the parent process \(\d+\) is gone/);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  }, 120_000);
});
