/**
 * duet-tf's main job on its built-in synthetic data: train a base SASRec and its DUET variant (the
 * user tower generated per user from their recent clicks) for the same number of epochs, compare
 * both on the test users, and recommend the top 5 items for one user.
 *
 *   npm run example
 */
import {
  createModel, evaluateModel, recommend, synthetic, train, useBackend,
} from 'duet-tf';

const backend = await useBackend('auto');
const data = synthetic({ users: 1000, items: 400, seed: 0 });
const { train: trainSet, test, protocol } = data;
console.log(`synthetic data: ${protocol.users} users, ${protocol.items} items, ` +
  `${trainSet.size} training rows, ${test.size} test rows; backend ${backend}`);

const trainOptions = { epochs: 3, batchSize: 256, learningRate: 3e-3, validationFraction: 0.1, progress: true };

// 1. The shared model.
const base = createModel({ model: 'sasrec', variant: 'base', numItems: protocol.items, seed: 0 });
await train(base.model, { train: trainSet }, trainOptions);
const baseReport = await evaluateModel(base.model, test);

// 2. DUET: the same model with its user tower generated per user, trained the same epochs.
//    (`duetFromBase(base.model, base.config)` would start it from the trained base instead.)
const duet = createModel({ model: 'sasrec', variant: 'duet', numItems: protocol.items, seed: 0 });
await train(duet.model, { train: trainSet }, trainOptions);
const duetReport = await evaluateModel(duet.model, test);

const rows = [['model', 'AUC', 'UAUC', 'NDCG@10', 'HR@10', 'logloss']];
for (const [name, r] of [['sasrec (base)', baseReport], ['sasrec (DUET)', duetReport]] as const) {
  rows.push([name, r.auc, r.uauc, r['ndcg@10'], r['hr@10'], r.logloss].map((v) =>
    typeof v === 'number' ? v.toFixed(4) : v));
}
for (const row of rows) console.log(row.map((c, i) => c.padEnd(i === 0 ? 18 : 9)).join(' '));

// 3. Top 5 for the first test user, from their history, excluding what they already clicked.
const history = Array.from(test.click.subarray(0, test.clickLength)).filter((id) => id > 0);
const top = await recommend(duet.model, history, { numItems: protocol.items, k: 5, exclude: 'history' });
console.log(`user ${test.user[0]}: last clicks [${history.slice(-5).join(', ')}] → ` +
  `recommended [${top.map((r) => r.item).join(', ')}]`);
