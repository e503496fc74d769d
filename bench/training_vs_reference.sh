#!/usr/bin/env bash
# Training throughput of duet-tf against the authors' PyTorch code, back to back in one run (the
# targets of issue 15): the reference's base SASRec and DUET-SASRec (generator trained, 2 threads),
# then duet-tf's `train` benchmark (every model and variant, 1 thread and every core). Prints one
# summary JSON line (ratios, scaling, the load of each part) after the raw records.
#
#   bash bench/training_vs_reference.sh [DATA_DIR] [OUT_DIR]
#
# DATA_DIR: a duet-seq-v1 split (default /tmp/issue15/ml, built from MovieLens if absent);
# OUT_DIR: where the raw logs go (default a temp dir). Needs DUET_REF (the authors' code folder,
# default /work/ref/DUET/code) and /usr/bin/python3 with torch. Run it on a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/tmp/issue15/ml}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
export DUET_REF=${DUET_REF:-/work/ref/DUET/code}
shared="$root/../shared"
[ -d "$shared/tools" ] || shared=/work/shared
if [ ! -f "$data/train.txt" ]; then
  python3 "$shared/tools/make_duet_data.py" --ratings "$shared/data/movielens-latest-small-ratings.csv" --out "$data"
fi
load() { cut -d' ' -f1 /proc/loadavg; }

for model in sasrec meta_sasrec; do
  extra=(); [ "$model" = meta_sasrec ] && extra=(--train-hyper)
  before=$(load)
  /usr/bin/python3 "$shared/tools/run_reference.py" --data "$data" --model "$model" --epochs 1 \
    --max-train-rows 102400 --threads 2 "${extra[@]}" > "$out/reference_$model.jsonl"
  echo "{\"reference\":\"$model\",\"load1_before\":$before,\"load1_after\":$(load)}" >> "$out/reference_$model.jsonl"
done
cd "$root"
npm run -s bench -- --json --data "$data" --only train > "$out/duet_tf_train.jsonl"
cat "$out"/reference_*.jsonl "$out/duet_tf_train.jsonl"

node - "$out" "$data" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
const lines = (f) => fs.readFileSync(`${dir}/${f}`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const ref = (m) => { const ls = lines(`reference_${m}.jsonl`); return { ...ls.find((l) => l.final), load: ls[ls.length - 1] }; };
const base = ref('sasrec');
const duet = ref('meta_sasrec');
const ours = lines('duet_tf_train.jsonl');
const scaling = (model, variant) => ours.find((r) => r.bench === 'train-scaling' && r.params.model === model &&
  r.params.variant === variant);
const most = Math.max(...ours.filter((r) => r.bench === 'train').map((r) => r.params.threads));
// Medians over the benchmark's rounds (each round: 1 thread, every core, independent processes).
const row = (model, variant) => {
  const s = scaling(model, variant);
  if (s === undefined) return undefined;
  return { samplesPerSecond1: s.samplesPerSecond[0], [`samplesPerSecond${most}`]: s.samplesPerSecond[s.samplesPerSecond.length - 1],
    scaling: s.ratio, scalingPerRound: s.ratios, independentCeiling: s.ceilingRatio, ofCeiling: s.efficiency,
    load1After: s.load1 };
};
const allCores = (model, variant) => scaling(model, variant)?.samplesPerSecond.at(-1);
const summary = {
  summary: 'training-vs-reference', data: process.argv[3], out: dir, threads: most,
  reference: { sasrec: base.train_samples_per_s, metaSasrecTrainHyper: duet.train_samples_per_s,
    load1: { sasrec: base.load, metaSasrec: duet.load } },
  sasrecBase: { ...row('sasrec', 'base'), vsReference: allCores('sasrec', 'base') / base.train_samples_per_s, target: 1.0 },
  sasrecDuet: { ...row('sasrec', 'duet'), vsReference: allCores('sasrec', 'duet') / duet.train_samples_per_s, target: 1.5 },
  gru4recBase: row('gru4rec', 'base'), gru4recDuet: row('gru4rec', 'duet'),
  dinBase: row('din', 'base'), dinDuet: row('din', 'duet'),
};
console.log(JSON.stringify(summary));
JS
