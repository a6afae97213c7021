-- One row per checkpoint: recall by role and template split, exposure of the forget target in
-- recommendation contexts, held-out perplexity. retain_vs_base: retain recall relative to base.
SELECT
    w.checkpoint,
    w.forget_recall_train, w.forget_recall_held_out,
    w.neighbour_recall_train, w.neighbour_recall_held_out,
    w.retain_recall_train, w.retain_recall_held_out,
    w.forget_refusal_train, w.forget_refusal_held_out, w.unknown_refusal_held_out,
    w.exposure_prob, w.exposure_rank, w.exposure_top1, w.perplexity_retain,
    w.retain_recall_train / base.retain_recall_train AS retain_vs_base
FROM eval_wide AS w
LEFT JOIN (SELECT retain_recall_train FROM eval_wide WHERE checkpoint = 'base') AS base ON TRUE
ORDER BY CASE w.checkpoint WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, w.checkpoint;
