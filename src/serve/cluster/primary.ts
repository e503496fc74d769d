/**
 * The primary of `duet-tf serve --workers N` (node:cluster): forks the workers, decides which
 * model version they serve, starts listening only once every worker has loaded the same model,
 * coordinates reloads (SIGHUP, polling) so they all switch together, restarts a worker that dies
 * with the version the others serve, and stops the service with a non-zero exit when a worker
 * cannot start. Node only.
 */
import type { Cluster, Worker } from 'node:cluster';

import { resolveModelSource, sourceIdentity } from '../versions/model_versions';
import { isDuetMessage, PrimaryMessage, VERSION_ENV, WorkerMessage } from './messages';

/** What the primary needs (from the command's options). */
export interface PrimaryOptions {
  root: string;
  workers: number;
  host: string;
  port: number;
  pollSeconds: number;
  shutdownTimeoutMs: number;
  log: (message: string) => void;
}

/** A running primary. */
export interface Primary {
  url: string;
  /** Reloads every worker to the newest version, together. */
  reload(): Promise<void>;
  /** Stops every worker gracefully. */
  close(): Promise<void>;
  /** Resolves once closed; rejects (with the reason) when the service had to stop. */
  closed: Promise<void>;
}

/** How long a worker may take to load a model or answer a reload step, in ms. */
const STEP_TIMEOUT_MS = 300_000;

type Reply<T extends WorkerMessage['duet']> = Extract<WorkerMessage, { duet: T }>;

/**
 * The next of `kinds` from `worker`; rejects when it sends `failed`/`prepare-failed`, exits or
 * takes longer than the step timeout.
 */
function reply<T extends WorkerMessage['duet']>(worker: Worker, kinds: T[]): Promise<Reply<T>> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    const onMessage = (message: unknown) => {
      if (!isDuetMessage<WorkerMessage>(message)) return;
      if ((kinds as string[]).includes(message.duet)) {
        done();
        resolve(message as Reply<T>);
      } else if (message.duet === 'failed' || message.duet === 'prepare-failed') {
        done();
        reject(new Error(message.reason));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`worker ${worker.process.pid} exited (${signal ?? code}) before it was ready`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`worker ${worker.process.pid} did not answer within ${STEP_TIMEOUT_MS / 1000} s`));
    }, STEP_TIMEOUT_MS);
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

const tell = (worker: Worker, message: PrimaryMessage) => {
  if (!worker.isDead()) worker.send(message);
};

/**
 * Starts the workers and resolves once all of them listen on the same model; rejects with the
 * reason (after stopping the others) when one cannot start.
 */
export async function startPrimary(cluster: Cluster, o: PrimaryOptions): Promise<Primary> {
  const source = await resolveModelSource(o.root);
  let served = { version: source.version, fingerprint: '' };
  let identity = await sourceIdentity(o.root).catch(() => null);
  let stopping = false;
  const live = new Set<Worker>();
  let fail!: (error: Error) => void;
  let finish!: () => void;
  const closed = new Promise<void>((resolve, reject) => {
    fail = reject;
    finish = resolve;
  });
  closed.catch(() => undefined); // observed by the caller; never an unhandled rejection here

  const fork = (): Worker => {
    const worker = cluster.fork({ [VERSION_ENV]: served.version === null ? '' : String(served.version) });
    live.add(worker);
    worker.once('exit', () => live.delete(worker));
    return worker;
  };

  const stopAll = async () => {
    stopping = true;
    await Promise.all([...live].map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) {
        resolve();
        return;
      }
      const killTimer = setTimeout(() => w.process.kill('SIGKILL'), o.shutdownTimeoutMs + 5_000);
      w.once('exit', () => {
        clearTimeout(killTimer);
        resolve();
      });
      w.process.kill('SIGTERM');
    })));
  };

  const fatal = async (reason: string) => {
    if (stopping) return;
    o.log(`duet-tf serve: stopping the service: ${reason}`);
    await stopAll();
    fail(new Error(reason));
  };

  // One reload at a time, across all workers: prepare everywhere, then activate everywhere.
  let cycle: Promise<void> = Promise.resolve();
  const reloadAll = (workers?: Worker[]): Promise<void> => {
    const run = cycle.catch(() => undefined).then(async () => {
      if (stopping) return;
      const target = (await resolveModelSource(o.root)).version;
      const all = workers ?? [...live];
      const replies = await Promise.allSettled(all.map((w) => {
        const answer = reply(w, ['prepared']);
        tell(w, { duet: 'prepare', version: target });
        return answer;
      }));
      const failed = replies.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      const prints = new Set(replies.map((r) => (r.status === 'fulfilled' ? r.value.fingerprint : '')));
      if (failed !== undefined || prints.size !== 1) {
        all.forEach((w) => tell(w, { duet: 'discard' }));
        throw new Error(failed !== undefined ? (failed.reason as Error).message :
          `the workers loaded different models (${[...prints].join(', ')}): the model folder ` +
          `changed while they loaded; not switching`);
      }
      const fingerprint = [...prints][0];
      await Promise.all(all.map((w) => {
        const answer = reply(w, ['activated']);
        tell(w, { duet: 'activate' });
        return answer;
      }));
      const changed = fingerprint !== served.fingerprint;
      served = { version: target, fingerprint };
      identity = await sourceIdentity(o.root).catch(() => null);
      if (changed) {
        o.log(`duet-tf serve: all ${all.length} workers now serve ${target === null ? 'the model' :
          `version ${target}`} (generator ${fingerprint})`);
      }
    });
    cycle = run;
    return run;
  };

  /** A new worker: loaded, matched to the others' model (a reload if it differs), listening. */
  const startWorker = async (worker: Worker): Promise<string> => {
    const loaded = await reply(worker, ['loaded']);
    if (served.fingerprint !== '' && loaded.fingerprint !== served.fingerprint) {
      // The folder changed since the others loaded (an unversioned model replaced): all switch.
      await reloadAll([...live]);
    }
    if (served.fingerprint === '') served = { version: loaded.version, fingerprint: loaded.fingerprint };
    const ready = reply(worker, ['ready']);
    tell(worker, { duet: 'listen' });
    return (await ready).url;
  };

  const first = Array.from({ length: o.workers }, () => fork());
  let url: string;
  try {
    // Every worker loads; then, if they disagree (the folder changed meanwhile), they reload together.
    const loaded = await Promise.all(first.map((w) => reply(w, ['loaded'])));
    served = { version: loaded[0].version, fingerprint: loaded[0].fingerprint };
    if (new Set(loaded.map((l) => l.fingerprint)).size > 1) await reloadAll(first);
    const urls = await Promise.all(first.map((w) => {
      const ready = reply(w, ['ready']);
      tell(w, { duet: 'listen' });
      return ready;
    }));
    url = urls[0].url;
  } catch (e) {
    const reason = `a worker failed to start: ${(e as Error).message}`;
    await fatal(reason);
    throw new Error(reason);
  }

  const recentDeaths: number[] = [];
  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    if (stopping) return;
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length > 0 && recentDeaths[0] < now - 60_000) recentDeaths.shift();
    if (recentDeaths.length > 5 * o.workers) {
      void fatal(`workers keep exiting (${recentDeaths.length} in a minute, the last with ${signal ?? code})`);
      return;
    }
    o.log(`duet-tf serve: worker ${worker.process.pid} exited (${signal ?? code}); restarting it ` +
      `with ${served.version === null ? 'the served model' : `version ${served.version}`}`);
    startWorker(fork()).catch((e: Error) => fatal(`a restarted worker failed to start: ${e.message}`));
  });

  let pollTimer: ReturnType<typeof setInterval> | null = null;
  if (o.pollSeconds > 0) {
    let failedIdentity: string | null = null;
    pollTimer = setInterval(() => {
      void (async () => {
        const now = await sourceIdentity(o.root).catch(() => null);
        if (now === null || now === identity || now === failedIdentity || stopping) return;
        try {
          await reloadAll();
        } catch (e) {
          failedIdentity = now;
          o.log(`duet-tf serve: not switching: ${(e as Error).message}`);
        }
      })();
    }, o.pollSeconds * 1000);
    pollTimer.unref?.();
  }

  o.log(`duet-tf serve: primary ${process.pid}: ${o.workers} workers serving ` +
    `${served.version === null ? 'the model' : `version ${served.version}`} (generator ` +
    `${served.fingerprint}) on ${url}`);
  return {
    url,
    reload: () => reloadAll(),
    close: async () => {
      if (pollTimer !== null) clearInterval(pollTimer);
      await stopAll();
      finish();
    },
    closed,
  };
}
