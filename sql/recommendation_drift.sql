-- Recommendation drift per method: design mean over seeds, families and pairs with its 95%
-- crossed cluster-bootstrap interval inside the metric's range ("mean [low, high]";
-- actunlearn.recdrift.pair_intervals). paraphrase = agreement of ranked lists across
-- paraphrases of one request, within a checkpoint; vs_base = agreement of each prompt's list with
-- the base model's. Families: target (about the forgotten film), adjacent (films whose
-- recommendations included it), control (other films: nothing should move).
-- kendall_topk_distance: normalised top-k Kendall distance K^(0.5) (Fagin, Kumar & Sivakumar
-- 2003): 0 = same list, 1 = disjoint lists. overlap_at_k: share of the top k in common (0 =
-- disjoint). kendall_tau is the legacy tau-b (missing items tied at the bottom; negative for
-- disjoint lists). legacy_embedding_tau is the original study's number (Kendall tau between two
-- embedding vectors, not a ranking correlation), kept only to compare with old results.
-- Noise floor: beside each metric, <metric>_base_paraphrase is the base model's own paraphrase
-- drift for the same family kind; a method's drift means something only against it.
WITH cells AS (
    SELECT method, comparison, family_kind, metric, n AS seeds,
           CASE WHEN low IS NULL THEN printf('%.3f', mean)
                ELSE printf('%.3f [%.3f, %.3f]', mean, low, high) END AS cell
    FROM drift_intervals
),
noise_floor AS (
    SELECT family_kind, metric, cell AS floor_cell
    FROM cells WHERE method = 'base' AND comparison = 'paraphrase'
),
joined AS (
    SELECT cells.*, noise_floor.floor_cell
    FROM cells LEFT JOIN noise_floor USING (family_kind, metric)
),
wide AS (
    PIVOT joined ON metric IN ('kendall_topk_distance', 'overlap_at_k', 'kendall_tau', 'rbo',
                               'jaccard_at_k', 'embedding_cosine', 'legacy_embedding_tau')
    USING first(cell) AS v, first(floor_cell) AS f GROUP BY comparison, family_kind, method, seeds
)
SELECT comparison, family_kind, method, seeds,
       kendall_topk_distance_v AS kendall_topk_distance,
       kendall_topk_distance_f AS kendall_topk_distance_base_paraphrase,
       overlap_at_k_v AS overlap_at_k, overlap_at_k_f AS overlap_at_k_base_paraphrase,
       kendall_tau_v AS kendall_tau, kendall_tau_f AS kendall_tau_base_paraphrase,
       rbo_v AS rbo, rbo_f AS rbo_base_paraphrase,
       jaccard_at_k_v AS jaccard_at_k, jaccard_at_k_f AS jaccard_at_k_base_paraphrase,
       embedding_cosine_v AS embedding_cosine,
       embedding_cosine_f AS embedding_cosine_base_paraphrase,
       legacy_embedding_tau_v AS legacy_embedding_tau,
       legacy_embedding_tau_f AS legacy_embedding_tau_base_paraphrase
FROM wide
ORDER BY comparison DESC, family_kind,
         CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
