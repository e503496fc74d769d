/**
 * The browser example, all steps (`npm run example:browser`): prepare the models (prepare.ts:
 * train the example's own, or publish a CLI-trained one given with `--model-dir`), bundle the
 * page (build.ts), then serve the page on loopback and run `duet-tf serve` on the full model
 * (CORS allowing the page's origin), and print the URL to open. Ctrl-C stops both.
 *
 *   npx tsx examples/browser/start.ts [--model-dir DIR] [--out DIR] [--port 8000] [--service-port 8080]
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildBrowserExample } from './build';
import { prepareFromArgs } from './prepare';
import { PageConfig, startStaticServer } from './static_server';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(REPO, 'src', 'cli', 'bin.ts');

/** A running `duet-tf serve` child process. */
export interface ServeChild {
  child: ChildProcess;
  /** The service's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Everything it wrote to stderr so far. */
  log: string[];
  /** SIGTERM (graceful), resolving once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `duet-tf serve --model-dir DIR` (the CLI from source, through tsx) on 127.0.0.1 and
 * resolves once it listens.
 *
 * @example
 * ```ts
 * const service = await spawnServe({ modelDir: 'examples/browser/dist/model/full', port: 8080,
 *   corsOrigin: 'http://127.0.0.1:8000' });
 * ```
 */
export function spawnServe(options: {
  modelDir: string; port?: number; corsOrigin: string; backend?: string; timeoutMs?: number;
}): Promise<ServeChild> {
  const args = ['--import', 'tsx', CLI, 'serve', '--model-dir', options.modelDir,
    '--host', '127.0.0.1', '--port', String(options.port ?? 8080),
    '--cors-origin', options.corsOrigin, '--backend', options.backend ?? 'auto'];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`duet-tf serve did not start within ${options.timeoutMs ?? 60_000} ms:\n` +
        log.join('')));
    }, options.timeoutMs ?? 60_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log.push(chunk);
      const m = /listening on (http:\/\/\S+?)\s/.exec(log.join(''));
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, url: m[1].replace(/[,)]$/, ''), log, stop });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`duet-tf serve exited (${signal ?? code}) before listening:\n${log.join('')}`));
    });
  });
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(flag('--out') ?? fileURLToPath(new URL('./dist', import.meta.url)));
  await prepareFromArgs(process.argv.slice(2));
  await buildBrowserExample(out);
  const modelDir = JSON.parse(fs.readFileSync(path.join(out, 'service.json'), 'utf8')).modelDir as string;
  const port = Number(flag('--port') ?? 8000);
  const servicePort = Number(flag('--service-port') ?? 8080);
  const config: PageConfig = { serviceUrl: `http://127.0.0.1:${servicePort}`, format: 'f16' };
  const site = await startStaticServer({ root: out, port, config });
  const origin = site.url.replace(/\/$/, '');
  let service: ServeChild;
  try {
    service = await spawnServe({ modelDir, port: servicePort,
      corsOrigin: origin });
  } catch (e) {
    await site.close();
    throw e;
  }
  config.serviceUrl = service.url;
  service.child.stderr!.on('data', (chunk: string) => process.stderr.write(chunk));
  console.log(`\n  duet-tf browser example: open ${site.url}\n` +
    `  (page from ${out}, service ${service.url}; stop the service with ` +
    `kill ${service.child.pid} to watch the page fall back; Ctrl-C ends both)\n`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await service.stop();
    await site.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}
