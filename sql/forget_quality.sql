-- Unlearning quality per method, over its runs (seeds); every statistic is over facts (a fact =
-- film x attribute, its paraphrase prompts aggregated first), from quality_intervals:
-- forget_quality_p_above_0_05: runs whose forget quality p-value (two-sample KS test of the
--   per-fact forget truth ratios against the retain reference's; high = indistinguishable from
--   a model that never saw the facts) exceeds 0.05, "k of runs (share)";
-- forget_quality_p_median_range: the lower median p-value over runs (an observed one; min, max) -
--   p-values are never averaged;
-- *_mean_range cells: "mean over runs (min, max over runs)", no interval: membership-inference
--   AUC of forget facts (members) vs holdout facts (films no model saw) by loss and by Min-K%
--   Prob (min_k_percent = k), the gap |AUC - AUC of retain_ref| (goal 0; *_ref = retain_ref's
--   AUC), the KS statistic and the median forget truth ratio.
SELECT
    method,
    runs,
    n_forget_facts,
    n_holdout_facts,
    min_k_percent,
    printf('%d of %d (%.0f%%)', runs_p_above_0_05, runs, 100 * share_p_above_0_05)
        AS forget_quality_p_above_0_05,
    CASE WHEN runs = 1 THEN printf('%.3g', forget_quality_p_median)
         ELSE printf('%.3g (min %.3g, max %.3g)', forget_quality_p_median,
                     forget_quality_p_min, forget_quality_p_max) END
        AS forget_quality_p_median_range,
    CASE WHEN runs = 1 THEN printf('%.3f', ks_statistic_mean)
         ELSE printf('%.3f (min %.3f, max %.3f)', ks_statistic_mean, ks_statistic_min,
                     ks_statistic_max) END AS ks_statistic_mean_range,
    CASE WHEN runs = 1 THEN printf('%.3f', truth_ratio_forget_mean)
         ELSE printf('%.3f (min %.3f, max %.3f)', truth_ratio_forget_mean, truth_ratio_forget_min,
                     truth_ratio_forget_max) END AS truth_ratio_forget_mean_range,
    CASE WHEN runs = 1 THEN printf('%.3f', mia_auc_loss_mean)
         ELSE printf('%.3f (min %.3f, max %.3f)', mia_auc_loss_mean, mia_auc_loss_min,
                     mia_auc_loss_max) END AS mia_auc_loss_mean_range,
    mia_auc_loss_ref,
    CASE WHEN runs = 1 THEN printf('%.3f', mia_auc_loss_gap_mean)
         ELSE printf('%.3f (min %.3f, max %.3f)', mia_auc_loss_gap_mean, mia_auc_loss_gap_min,
                     mia_auc_loss_gap_max) END AS mia_auc_loss_gap_mean_range,
    CASE WHEN runs = 1 THEN printf('%.3f', mia_auc_min_k_mean)
         ELSE printf('%.3f (min %.3f, max %.3f)', mia_auc_min_k_mean, mia_auc_min_k_min,
                     mia_auc_min_k_max) END AS mia_auc_min_k_mean_range,
    mia_auc_min_k_ref,
    CASE WHEN runs = 1 THEN printf('%.3f', mia_auc_min_k_gap_mean)
         ELSE printf('%.3f (min %.3f, max %.3f)', mia_auc_min_k_gap_mean, mia_auc_min_k_gap_min,
                     mia_auc_min_k_gap_max) END AS mia_auc_min_k_gap_mean_range
FROM quality_intervals
ORDER BY CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
