/**
 * `watchParent` (what stops `npx duet-tf serve` when npm's shell goes): a parent that went away
 * before the watch started (npm got SIGTERM while the model was loading) is noticed too.
 */
import { describe, expect, it } from 'vitest';

import { type ProcessLike, watchParent } from '../../src/serve/parent_watch';

function fakeProcess(ppid: number) {
  const exits: number[] = [];
  const proc: ProcessLike = {
    ppid,
    env: { npm_command: 'exec' },
    exit: ((code?: number) => { exits.push(code ?? 0); }) as ProcessLike['exit'],
  };
  return { proc, exits };
}

describe('watchParent', () => {
  it('closes and exits when the parent it started with is gone, also when it was gone before the watch began', async () => {
    // Reparented to init before watchParent ran: the parent it started with (4242) is gone.
    const { proc, exits } = fakeProcess(1);
    let closed = 0;
    const stop = watchParent({ close: async () => { closed++; } }, { process: proc, parent: 4242 });
    const end = Date.now() + 5000;
    while (exits.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(closed).toBe(1);
    expect(exits).toEqual([0]);
  });

  it('does nothing while the parent is there, or when not started by npm', async () => {
    const { proc, exits } = fakeProcess(4242);
    let closed = 0;
    const stop = watchParent({ close: async () => { closed++; } }, { process: proc, parent: 4242 });
    const plain = fakeProcess(1);
    plain.proc.env = {};
    const stopPlain = watchParent({ close: async () => { closed++; } }, { process: plain.proc, parent: 4242 });
    await new Promise((r) => setTimeout(r, 1200)); // two checks
    stop();
    stopPlain();
    expect(closed).toBe(0);
    expect([...exits, ...plain.exits]).toEqual([]);
  });
});
