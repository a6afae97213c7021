-- Exposure of the forget target where it used to be recommended, by template split:
-- mean probability of the full title, mean rank among all catalog titles, share ranked first.
SELECT
    checkpoint,
    split,
    target,
    count(*) AS contexts,
    avg(exp(target_logprob)) AS mean_prob,
    avg(target_rank) AS mean_rank,
    avg(CASE WHEN target_rank = 1 THEN 1.0 ELSE 0.0 END) AS top1_share,
    any_value(n_candidates) AS candidates
FROM eval_exposure
GROUP BY checkpoint, split, target
ORDER BY checkpoint, split, target;
