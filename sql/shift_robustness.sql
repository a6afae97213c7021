-- Forgetting under distribution shift: greedy recall of forget, neighbour and retain films per
-- shift set, mean over seeds and its 95% Student-t interval over seeds ("[low, high]"; empty with
-- one seed). `original` = the train templates and `paraphrase` = the held-out templates of the
-- main evaluation, on the same films as the shift sets.
WITH per_checkpoint AS (
    SELECT
        CASE WHEN checkpoint IN ('base', 'retain_ref') THEN checkpoint
             ELSE regexp_replace(checkpoint, '_seed[0-9]+$', '') END AS method,
        shift_set, role, value
    FROM eval_shift_summary
    WHERE metric = 'recall'
),
stats AS (
    SELECT method, shift_set, role, count(*) AS n, avg(value) AS mean, stddev_samp(value) AS sd
    FROM per_checkpoint
    GROUP BY method, shift_set, role
),
cells AS (
    SELECT *, CASE WHEN n < 2 THEN NULL ELSE printf('[%.3f, %.3f]',
               mean - t95(n - 1) * sd / sqrt(n), mean + t95(n - 1) * sd / sqrt(n)) END AS ci
    FROM stats
)
SELECT method, max(n) AS seeds, shift_set,
       max(mean) FILTER (WHERE role = 'forget') AS forget,
       max(ci) FILTER (WHERE role = 'forget') AS forget_ci,
       max(mean) FILTER (WHERE role = 'neighbour') AS neighbour,
       max(ci) FILTER (WHERE role = 'neighbour') AS neighbour_ci,
       max(mean) FILTER (WHERE role = 'retain') AS retain,
       max(ci) FILTER (WHERE role = 'retain') AS retain_ci
FROM cells
GROUP BY method, shift_set
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method,
         list_position(['original', 'paraphrase', 'alias', 'multihop', 'typo', 'casing', 'filler',
                        'word_order', 'system_prompt'], shift_set);
