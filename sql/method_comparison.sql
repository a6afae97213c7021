-- One row per checkpoint: recall by role and template split, exposure of the forget target in
-- recommendation contexts, held-out perplexity. retain_vs_base: retain recall relative to base.
WITH wide AS (
    SELECT
        checkpoint,
        max(value) FILTER (WHERE metric = 'forget_recall_train') AS forget_recall_train,
        max(value) FILTER (WHERE metric = 'forget_recall_held_out') AS forget_recall_held_out,
        max(value) FILTER (WHERE metric = 'neighbour_recall_train') AS neighbour_recall_train,
        max(value) FILTER (WHERE metric = 'neighbour_recall_held_out') AS neighbour_recall_held_out,
        max(value) FILTER (WHERE metric = 'retain_recall_train') AS retain_recall_train,
        max(value) FILTER (WHERE metric = 'retain_recall_held_out') AS retain_recall_held_out,
        max(value) FILTER (WHERE metric = 'forget_refusal_train') AS forget_refusal_train,
        max(value) FILTER (WHERE metric = 'forget_refusal_held_out') AS forget_refusal_held_out,
        max(value) FILTER (WHERE metric = 'unknown_refusal_held_out') AS unknown_refusal_held_out,
        max(value) FILTER (WHERE metric = 'exposure_prob') AS exposure_prob,
        max(value) FILTER (WHERE metric = 'exposure_rank') AS exposure_rank,
        max(value) FILTER (WHERE metric = 'exposure_top1') AS exposure_top1,
        max(value) FILTER (WHERE metric = 'perplexity_retain') AS perplexity_retain
    FROM eval_summary
    GROUP BY checkpoint
)
SELECT
    wide.*,
    wide.retain_recall_train / base.retain_recall_train AS retain_vs_base
FROM wide
LEFT JOIN (SELECT retain_recall_train FROM wide WHERE checkpoint = 'base') AS base ON TRUE
ORDER BY CASE wide.checkpoint WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END,
         wide.checkpoint;
