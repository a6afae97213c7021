-- Unlearning quality per method, mean over seeds with a 95% t interval ("mean [low, high]"):
-- membership-inference AUC of forget facts vs never-seen holdout facts (by loss and by Min-K%
-- Prob; the retain reference's value is the goal, 0.5 = indistinguishable), the median truth ratio
-- of the forget facts, and forget quality: the KS statistic and p-value of the forget truth
-- ratios against the retain reference's (TOFU's test; high p = indistinguishable from a model
-- that never saw the facts).
WITH cells AS (
    SELECT method, metric, n AS seeds,
           CASE WHEN low IS NULL THEN printf('%.3f', mean)
                ELSE printf('%.3f [%.3f, %.3f]', mean, low, high) END AS cell
    FROM quality_intervals
),
wide AS (
    PIVOT cells ON metric IN ('mia_auc_loss', 'mia_auc_min_k', 'truth_ratio_forget',
                             'ks_statistic', 'forget_quality_p')
    USING first(cell) GROUP BY method, seeds
)
SELECT * FROM wide
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
