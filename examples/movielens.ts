/**
 * The DUET paper's MovieLens experiment with SASRec: build the duet-seq-v1 split from a ratings
 * CSV, train the shared model (base) and its DUET variant for one epoch each, and compare both on
 * the test users beside the DUET authors' own PyTorch numbers on the same split.
 *
 *   npm run example:movielens                      # ../shared/data/movielens-latest-small-ratings.csv
 *   npm run example:movielens -- path/to/ratings.csv
 *
 * About 5–10 minutes on 2 cores (wasm backend); `duet-tf compare` adds the fine-tune baseline.
 */
import {
  buildDuetSplit, createModel, evaluateModel, readRatings, train, useBackend,
} from 'duet-tf';

const file = process.argv[2] ?? '../shared/data/movielens-latest-small-ratings.csv';
const backend = await useBackend('auto');

// 1. The split: per user, the last item is the test target (with 49 sampled negatives), the
//    earlier ones are training targets (one negative each); the 30 items before a target are its
//    click sequence. The same rules as `duet-tf prepare` and the authors' data script.
const users = await readRatings(file);
const { train: trainSet, test, protocol } = buildDuetSplit(users, { source: file });
console.log(`${file}: ${protocol.users} users, ${protocol.items} items, ${trainSet.size} training ` +
  `rows, ${test.size} test rows; backend ${backend}`);

// 2. The authors' setting: item embeddings of size 32, Adam 1e-3, batches of 1024, one epoch.
const options = { epochs: 1, batchSize: 1024, learningRate: 1e-3, progress: true };
const base = createModel({ model: 'sasrec', numItems: protocol.items, seed: 0 });
await train(base.model, { train: trainSet }, options);
const baseReport = await evaluateModel(base.model, test);

// 3. DUET: the same model with the user tower's two layers generated per user from their click
//    sequence, trained from scratch for the same one epoch (`duetFromBase` would instead start
//    from the trained base and train one epoch more: the paper's flow, twice the passes).
const duet = createModel({ model: 'sasrec', variant: 'duet', numItems: protocol.items, seed: 0 });
await train(duet.model, { train: trainSet }, options);
const duetReport = await evaluateModel(duet.model, test);

// 4. The comparison, with the authors' PyTorch models on the same split (one epoch) for reference.
const rows: Array<[string, number, number, number, number, number]> = [
  ['duet-tf sasrec (base)', baseReport.auc, baseReport.uauc, baseReport['ndcg@10'], baseReport['hr@10'], baseReport.logloss],
  ['duet-tf sasrec (DUET)', duetReport.auc, duetReport.uauc, duetReport['ndcg@10'], duetReport['hr@10'], duetReport.logloss],
  ['authors sasrec (base)', 0.8622, 0.8296, 0.4547, 0.7295, 0.4227],
  ['authors meta_sasrec', 0.8665, 0.8323, 0.4550, 0.7262, 0.4548],
];
console.log(`\n${'model'.padEnd(24)}${['AUC', 'UAUC', 'NDCG@10', 'HR@10', 'logloss'].map((h) => h.padEnd(9)).join('')}`);
for (const [name, ...values] of rows) {
  console.log(`${name.padEnd(24)}${values.map((v) => v.toFixed(4).padEnd(9)).join('')}`);
}
