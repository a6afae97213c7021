-- Per forget film and method, on held-out prompts: the film's own forget recall, its neighbours'
-- recall, and its exposure in held-out recommendation contexts, "estimate [low, high]" over seeds
-- and facts (95% cluster-bootstrap interval; actunlearn.intervals), with the n behind each.
WITH cells AS (
    SELECT method, film, metric, n_seeds, n_facts,
           CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM method_results
    WHERE film != 'all' AND split = 'held_out'
)
SELECT f.method, f.film, f.n_seeds AS seeds, f.n_facts AS forget_facts, f.cell AS forget_held_out,
       n.cell AS neighbours_held_out, n.n_facts AS neighbour_facts,
       e.cell AS exposure_prob_held_out, e.n_facts AS exposure_contexts
FROM (SELECT * FROM cells WHERE metric = 'forget_recall') f
LEFT JOIN (SELECT * FROM cells WHERE metric = 'neighbour_recall') n USING (method, film)
LEFT JOIN (SELECT * FROM cells WHERE metric = 'exposure_prob') e USING (method, film)
ORDER BY CASE f.method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, f.method, f.film;
