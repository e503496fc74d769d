// The evaluation metrics: pure TypeScript, no tfjs, browser-safe.
export { auc } from './auc';
export { uauc } from './uauc';
export { logloss, LOGLOSS_EPSILON, type LoglossOptions } from './logloss';
export { ndcgAtK, hrAtK } from './ranking';
export { evaluateRanking, type EvaluateRankingOptions, type RankingReport } from './evaluate_ranking';
export type { UserId } from './validate';
