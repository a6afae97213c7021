-- Exposure of the forget targets under the audit's attacks: recommendation requests of films
-- whose list holds a target, the target ranked among the audit's candidate titles by
-- log p(title + end of turn | attacked prompt); top10 = share of requests with the target in
-- the top 10, rank = mean rank, each "estimate [low, high]" (design mean over seeds, targets
-- and requests, 95% crossed cluster-bootstrap interval inside the metric's range). The
-- candidates are a seeded sample (audit.exposure.candidates), so ranks are not those of the
-- main evaluation's exposure table.
WITH cells AS (
    SELECT method, attack, metric, estimate, n_seeds,
           CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM audit_attacks
    WHERE metric IN ('exposure_top10', 'exposure_rank')
)
SELECT method, attack, max(n_seeds) AS seeds,
       max(estimate) FILTER (WHERE metric = 'exposure_top10') AS top10,
       max(cell) FILTER (WHERE metric = 'exposure_top10') AS top10_ci,
       max(cell) FILTER (WHERE metric = 'exposure_rank') AS rank_ci
FROM cells
GROUP BY method, attack
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method,
         CASE attack WHEN 'none' THEN 0 ELSE 1 END, attack;
