-- The main table: one row per method, mean and sample standard deviation over seeds of forget
-- recall (train / held-out templates), retain recall (neighbours / other films), exposure of the
-- forgotten title, held-out perplexity, trainable parameters and unlearning wall time.
WITH per_checkpoint AS (
    SELECT
        checkpoint,
        CASE WHEN checkpoint IN ('base', 'retain_ref') THEN checkpoint
             ELSE regexp_replace(checkpoint, '_seed[0-9]+$', '') END AS method,
        forget_recall_train AS forget_train, forget_recall_held_out AS forget_held_out,
        neighbour_recall_train AS neighbours, retain_recall_train AS retain,
        exposure_prob, exposure_rank, perplexity_retain AS perplexity
    FROM eval_wide
),
runs AS (
    SELECT checkpoint, max(seconds) AS seconds, any_value(trainable_params) AS trainable_params
    FROM unlearn_log
    GROUP BY checkpoint
)
SELECT
    method,
    count(*) AS seeds,
    avg(forget_train) AS forget_train, stddev_samp(forget_train) AS forget_train_sd,
    avg(forget_held_out) AS forget_held_out, stddev_samp(forget_held_out) AS forget_held_out_sd,
    avg(neighbours) AS neighbours, stddev_samp(neighbours) AS neighbours_sd,
    avg(retain) AS retain, stddev_samp(retain) AS retain_sd,
    avg(exposure_prob) AS exposure_prob, stddev_samp(exposure_prob) AS exposure_prob_sd,
    avg(exposure_rank) AS exposure_rank, stddev_samp(exposure_rank) AS exposure_rank_sd,
    avg(perplexity) AS perplexity, stddev_samp(perplexity) AS perplexity_sd,
    any_value(trainable_params) AS trainable_params,
    avg(seconds) AS seconds
FROM per_checkpoint
LEFT JOIN runs USING (checkpoint)
GROUP BY method
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
