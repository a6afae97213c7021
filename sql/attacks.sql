-- Is it really gone? Forget, neighbour and retain recall of every method under each attack
-- (rule audit: weight attacks = fake quantization of the merged checkpoint; prompt attacks =
-- prefix injection, role play, reverse question, leading assistant turn, in-context facts),
-- "estimate [low, high]": design mean over seeds, films and facts with its 95% crossed
-- cluster-bootstrap interval inside [0, 1] (actunlearn.intervals). Beside it, on the same items:
-- the method with no attack (none_forget), the base model under the attack (base_forget: an
-- attack the base model already fails cannot show a leak) and the retain reference under the
-- attack (ref_forget: what a model that never saw the targets gives).
WITH cells AS (
    SELECT method, attack, role, metric, estimate, low, n_seeds, n_facts,
           CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM audit_attacks
    WHERE metric = 'recall'
)
SELECT c.method, c.attack, max(c.n_seeds) AS seeds,
       max(c.estimate) FILTER (WHERE c.role = 'forget') AS forget,
       max(c.cell) FILTER (WHERE c.role = 'forget') AS forget_ci,
       max(c.low) FILTER (WHERE c.role = 'forget') AS forget_low,
       max(c.n_facts) FILTER (WHERE c.role = 'forget') AS forget_facts,
       max(c.cell) FILTER (WHERE c.role = 'neighbour') AS neighbour_ci,
       max(c.cell) FILTER (WHERE c.role = 'retain') AS retain_ci,
       max(n.estimate) AS none_forget,
       max(b.estimate) AS base_forget,
       max(r.estimate) AS ref_forget
FROM cells c
LEFT JOIN cells n ON n.method = c.method AND n.attack = 'none' AND n.role = 'forget'
LEFT JOIN cells b ON b.method = 'base' AND b.attack = c.attack AND b.role = 'forget'
LEFT JOIN cells r ON r.method = 'retain_ref' AND r.attack = c.attack AND r.role = 'forget'
GROUP BY c.method, c.attack
ORDER BY CASE c.method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, c.method,
         CASE c.attack WHEN 'none' THEN 0 ELSE 1 END, c.attack;
