-- Can each shift set show leakage? The base model's recall per shift set and film role, next to
-- the retain reference's: a set on which the base model already fails cannot show that a
-- method leaks. "estimate [low, high]" as in shift_robustness (design mean over films and
-- facts, 95% crossed cluster-bootstrap interval inside [0, 1]); `meets_bar`: the base model's
-- estimate >= the configured evaluate.shift.bar (`bar`); bridge_named: the share of alias and
-- multi-hop answers that name the described film (itself a leak), base model.
WITH rows AS (
    SELECT method, CASE split WHEN 'train' THEN 'original' ELSE 'paraphrase' END AS shift_set,
           regexp_replace(metric, '_recall$', '') AS role, estimate, low, high, n_facts
    FROM method_results
    WHERE film = 'all' AND method IN ('base', 'retain_ref')
      AND metric IN ('forget_recall', 'neighbour_recall', 'retain_recall')
    UNION ALL
    SELECT method, split AS shift_set, regexp_extract(metric, '^shift_(.*)_recall$', 1) AS role,
           estimate, low, high, n_facts
    FROM method_results
    WHERE film = 'all' AND method IN ('base', 'retain_ref') AND metric LIKE 'shift_%_recall'
),
cells AS (
    SELECT *, CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                   WHEN low = high THEN printf('%.3g (no variation)', estimate)
                   ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM rows
),
bridge AS (
    SELECT shift_set, role, value AS bridge_named
    FROM eval_shift_summary
    WHERE checkpoint = 'base' AND metric = 'bridge'
)
SELECT c.shift_set, c.role,
       max(c.estimate) FILTER (WHERE c.method = 'base') AS base,
       max(c.cell) FILTER (WHERE c.method = 'base') AS base_ci,
       max(c.estimate) FILTER (WHERE c.method = 'retain_ref') AS retain_ref,
       max(c.cell) FILTER (WHERE c.method = 'retain_ref') AS retain_ref_ci,
       max(c.n_facts) FILTER (WHERE c.method = 'base') AS facts,
       max(b.bridge_named) AS bridge_named,
       getvariable('shift_bar') AS bar,
       max(c.estimate) FILTER (WHERE c.method = 'base') >= getvariable('shift_bar') AS meets_bar
FROM cells c LEFT JOIN bridge b USING (shift_set, role)
GROUP BY c.shift_set, c.role
ORDER BY list_position(['original', 'paraphrase', 'alias', 'multihop', 'typo', 'title_typo',
                        'casing', 'filler', 'word_order', 'system_prompt'], c.shift_set),
         list_position(['forget', 'neighbour', 'retain'], c.role);
