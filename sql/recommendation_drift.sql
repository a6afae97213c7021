-- Recommendation drift per method: mean over seeds with a 95% Student-t interval over seeds
-- ("mean [low, high]"; one seed: the mean alone). paraphrase = agreement of ranked lists across
-- paraphrases of one request, within a checkpoint; vs_base = agreement of each prompt's list with
-- the base model's. Families: target (about the forgotten film), adjacent (films whose
-- recommendations included it), control (other films: nothing should move).
-- legacy_embedding_tau is the original study's number (Kendall tau between two embedding
-- vectors, not a ranking correlation), kept only to compare with old results.
WITH cells AS (
    SELECT method, comparison, family_kind, metric, n AS seeds,
           CASE WHEN low IS NULL THEN printf('%.3f', mean)
                ELSE printf('%.3f [%.3f, %.3f]', mean, low, high) END AS cell
    FROM drift_intervals
),
wide AS (
    PIVOT cells ON metric IN ('kendall_tau', 'rbo', 'jaccard_at_k', 'embedding_cosine',
                             'legacy_embedding_tau')
    USING first(cell) GROUP BY comparison, family_kind, method, seeds
)
SELECT * FROM wide
ORDER BY comparison DESC, family_kind,
         CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END, method;
