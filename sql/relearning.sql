-- Relearning attack: forget recall (teacher-forced, held-out and train templates together) before
-- and after fine-tuning a copy of each checkpoint for a few steps, mean over the attacked seeds.
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
)
SELECT method, variant, count(DISTINCT checkpoint) AS seeds,
       avg(recall) FILTER (WHERE phase = 'before') AS before,
       avg(recall) FILTER (WHERE phase = 'after') AS after,
       avg(recall) FILTER (WHERE phase = 'after') - avg(recall) FILTER (WHERE phase = 'before')
           AS recovery
FROM per_checkpoint
GROUP BY method, variant
ORDER BY variant, CASE method WHEN 'retain_ref' THEN 0 ELSE 1 END, method;
