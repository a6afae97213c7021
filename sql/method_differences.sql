-- Does the activation-guided mask help? masked_lora minus every other method on held-out prompts,
-- paired by seed, forget film and fact: "difference [low, high]" (95% crossed cluster-bootstrap
-- interval inside [-1, 1]; actunlearn.summary.paired_differences). An interval that excludes 0 is
-- a difference this study can detect; one that includes 0 is not evidence of no difference.
-- forget: lower is better; neighbours, retain: higher is better; exposure_prob: lower is better.
WITH cells AS (
    SELECT method, metric, n_seeds, n_films, n_facts,
           CASE WHEN low IS NULL THEN printf('%+.3g', estimate)
                WHEN low = high THEN printf('%+.3g (no variation)', estimate)
                ELSE printf('%+.3g [%+.3g, %+.3g]', estimate, low, high) END AS cell,
           CASE WHEN low > 0 THEN 'masked_lora higher' WHEN high < 0 THEN 'masked_lora lower'
                ELSE 'not detectable' END AS verdict
    FROM method_differences
)
SELECT method AS compared_with, max(n_seeds) AS seeds,
       max(n_films) FILTER (WHERE metric = 'forget_recall') AS films,
       max(cell) FILTER (WHERE metric = 'forget_recall') AS forget_held_out,
       max(verdict) FILTER (WHERE metric = 'forget_recall') AS forget_verdict,
       max(cell) FILTER (WHERE metric = 'neighbour_recall') AS neighbours_held_out,
       max(verdict) FILTER (WHERE metric = 'neighbour_recall') AS neighbours_verdict,
       max(cell) FILTER (WHERE metric = 'retain_recall') AS retain_held_out,
       max(verdict) FILTER (WHERE metric = 'retain_recall') AS retain_verdict,
       max(cell) FILTER (WHERE metric = 'exposure_prob') AS exposure_prob_held_out,
       max(verdict) FILTER (WHERE metric = 'exposure_prob') AS exposure_verdict
FROM cells
GROUP BY method
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
