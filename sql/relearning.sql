-- Relearning attack: forget recall (teacher-forced, held-out and train templates together) before
-- and after fine-tuning a copy of each checkpoint for a few steps, mean over the attacked seeds,
-- with the 95% Student-t interval of the recovery over seeds ("[low, high]"; empty for one seed).
-- forget_subset: trained on some of the target's facts, measured on its other facts;
-- neighbours: trained on neighbour films' facts only, measured on all the target's facts.
-- retain_ref never saw the target: its recovery is what the attack teaches by itself.
WITH per_checkpoint AS (
    SELECT
        CASE WHEN checkpoint IN ('base', 'retain_ref') THEN checkpoint
             ELSE regexp_replace(checkpoint, '_seed[0-9]+$', '') END AS method,
        checkpoint, variant, phase, sum(recall * n) / sum(n) AS recall
    FROM relearn
    GROUP BY checkpoint, variant, phase
),
per_seed AS (
    SELECT method, variant, checkpoint,
           max(recall) FILTER (WHERE phase = 'before') AS before,
           max(recall) FILTER (WHERE phase = 'after') AS after
    FROM per_checkpoint
    GROUP BY method, variant, checkpoint
),
stats AS (
    SELECT method, variant, count(*) AS seeds, avg(before) AS before, avg(after) AS after,
           avg(after - before) AS recovery, stddev_samp(after - before) AS sd
    FROM per_seed
    GROUP BY method, variant
)
SELECT method, variant, seeds, before, after, recovery,
       CASE WHEN seeds < 2 THEN NULL ELSE printf('[%.3f, %.3f]',
           recovery - t95(seeds - 1) * sd / sqrt(seeds),
           recovery + t95(seeds - 1) * sd / sqrt(seeds)) END AS recovery_ci
FROM stats
ORDER BY variant, CASE method WHEN 'retain_ref' THEN 0 ELSE 1 END, method;
