-- Relearning attack: forget recall (teacher-forced, train and held-out templates pooled per fact)
-- before and after fine-tuning a copy of each checkpoint for a few steps, and the recovery
-- (after - before): design means over the attacked seeds, forget films and facts, "estimate [low,
-- high]" with the 95% crossed cluster-bootstrap interval inside the metric's range
-- (actunlearn.intervals). forget_subset: trained on some of the targets' facts, measured on their
-- other facts; neighbours: trained on neighbour films' facts only, measured on all the targets'
-- facts. retain_ref never saw the targets: its recovery is what the attack teaches by itself.
WITH cells AS (
    SELECT method, variant, metric, estimate, n_seeds, n_films, n_facts,
           CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM relearn_recovery
)
SELECT method, variant, max(n_seeds) AS seeds, max(n_films) AS films, max(n_facts) AS facts,
       max(estimate) FILTER (WHERE metric = 'before') AS before,
       max(estimate) FILTER (WHERE metric = 'after') AS after,
       max(estimate) FILTER (WHERE metric = 'recovery') AS recovery,
       max(cell) FILTER (WHERE metric = 'recovery') AS recovery_ci
FROM cells
GROUP BY method, variant
ORDER BY variant, CASE method WHEN 'retain_ref' THEN 0 ELSE 1 END, method;
