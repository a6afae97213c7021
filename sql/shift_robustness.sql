-- Forgetting under distribution shift: greedy recall of forget, neighbour and retain films per
-- shift set, mean over seeds. `original` = the train templates and `paraphrase` = the held-out
-- templates of the main evaluation, on the same films as the shift sets.
WITH per_checkpoint AS (
    SELECT
        CASE WHEN checkpoint IN ('base', 'retain_ref') THEN checkpoint
             ELSE regexp_replace(checkpoint, '_seed[0-9]+$', '') END AS method,
        shift_set, role, value
    FROM eval_shift_summary
    WHERE metric = 'recall'
),
wide AS (
    PIVOT per_checkpoint ON role IN ('forget', 'neighbour', 'retain') USING avg(value)
    GROUP BY method, shift_set
)
SELECT method, shift_set, forget, neighbour, retain
FROM wide
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method,
         list_position(['original', 'paraphrase', 'alias', 'multihop', 'typo', 'casing', 'filler',
                        'word_order', 'system_prompt'], shift_set);
