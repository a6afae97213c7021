-- The main table: one row per method. Headline columns are measured on prompts no method trained
-- on (held-out paraphrase templates; recommendation contexts in held-out templates): forget
-- recall, neighbour and retain recall, exposure of the forget titles, perplexity. Train-split
-- columns (`*_train`) are the training templates, which are in every trained method's forget or
-- retain data. Cells: design mean over seeds, forget films and facts "estimate [low, high]" (95%
-- crossed cluster-bootstrap interval inside the metric's range; actunlearn.intervals); `seeds`,
-- `films` and `facts` state what stands behind the forget columns. A deterministic method runs once.
WITH cells AS (
    SELECT method, metric || '_' || split AS col, n_seeds, n_films, n_facts, deterministic,
           CASE WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM method_results
    WHERE film = 'all'
),
forget AS (
    SELECT method, n_seeds AS seeds, n_films AS films, n_facts AS facts, deterministic
    FROM cells WHERE col = 'forget_recall_held_out'
),
wide AS (
    PIVOT (SELECT method, col, cell FROM cells)
    ON col IN ('forget_recall_held_out', 'neighbour_recall_held_out', 'retain_recall_held_out',
               'exposure_prob_held_out', 'exposure_rank_held_out', 'perplexity_retain_held_out',
               'forget_recall_train', 'neighbour_recall_train', 'retain_recall_train',
               'exposure_prob_train', 'exposure_rank_train')
    USING first(cell) GROUP BY method
),
runs AS (
    SELECT method, max(steps) AS steps, max(forget_examples) AS forget_per_step,
           max(retain_examples) AS retain_per_step, max(trainable_params) AS trainable_params,
           max(effective_params) AS effective_params, avg(seconds) AS seconds
    FROM (SELECT * FROM unlearn_log QUALIFY row_number() OVER (PARTITION BY checkpoint
                                                               ORDER BY step DESC) = 1)
    GROUP BY method
)
SELECT
    method, seeds, deterministic, films, facts,
    forget_recall_held_out AS forget_held_out,
    neighbour_recall_held_out AS neighbours_held_out,
    retain_recall_held_out AS retain_held_out,
    exposure_prob_held_out, exposure_rank_held_out,
    perplexity_retain_held_out AS perplexity_held_out,
    forget_recall_train AS forget_train, neighbour_recall_train AS neighbours_train,
    retain_recall_train AS retain_train, exposure_prob_train, exposure_rank_train,
    steps, forget_per_step, retain_per_step, trainable_params, effective_params,
    round(seconds, 1) AS seconds
FROM forget JOIN wide USING (method) LEFT JOIN runs USING (method)
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
