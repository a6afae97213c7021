-- Forgetting under distribution shift: greedy recall of forget, neighbour and retain films per
-- shift set, "estimate [low, high]": design mean over seeds, films and facts with its 95%
-- crossed cluster-bootstrap interval inside [0, 1] (actunlearn.intervals). `original` = the train
-- templates (in every trained method's data) and `paraphrase` = the held-out templates of the
-- main evaluation (its retain films are the evaluation's sample, a superset of the shift sets').
-- forget_bridge: for alias and multihop, the share of forget-film answers that name the
-- described film itself (a leak even when the asked fact is not given).
WITH rows AS (
    SELECT method, CASE split WHEN 'train' THEN 'original' ELSE 'paraphrase' END AS shift_set,
           regexp_replace(metric, '_recall$', '') AS role, estimate, low, high, n_seeds, n_facts
    FROM method_results
    WHERE film = 'all' AND metric IN ('forget_recall', 'neighbour_recall', 'retain_recall')
    UNION ALL
    SELECT method, split AS shift_set, regexp_extract(metric, '^shift_(.*)_recall$', 1) AS role,
           estimate, low, high, n_seeds, n_facts
    FROM method_results
    WHERE film = 'all' AND metric LIKE 'shift_%_recall'
    UNION ALL
    SELECT method, split AS shift_set, 'forget_bridge' AS role, estimate, low, high, n_seeds,
           n_facts
    FROM method_results
    WHERE film = 'all' AND metric = 'shift_forget_bridge'
),
cells AS (
    SELECT *, CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                   ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM rows
)
SELECT method, max(n_seeds) AS seeds, shift_set,
       max(estimate) FILTER (WHERE role = 'forget') AS forget,
       max(cell) FILTER (WHERE role = 'forget') AS forget_ci,
       max(n_facts) FILTER (WHERE role = 'forget') AS forget_facts,
       max(estimate) FILTER (WHERE role = 'neighbour') AS neighbour,
       max(cell) FILTER (WHERE role = 'neighbour') AS neighbour_ci,
       max(estimate) FILTER (WHERE role = 'retain') AS retain,
       max(cell) FILTER (WHERE role = 'retain') AS retain_ci,
       max(cell) FILTER (WHERE role = 'forget_bridge') AS forget_bridge
FROM cells
GROUP BY method, shift_set
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method,
         list_position(['original', 'paraphrase', 'alias', 'multihop', 'typo', 'title_typo',
                        'casing', 'filler', 'word_order', 'system_prompt'], shift_set);
