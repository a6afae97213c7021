-- Localization ground truth (rule localize, testbed): facts of fictitious films planted in a
-- copy of the base model through known MLP neurons only (their gate/up rows and down_proj
-- columns; every other weight unchanged), then each neuron ranking computed for those films:
-- precision_at_k = share of the top-k ranked neurons that are planted (k = planted neurons),
-- auc = how well the ranking's score separates planted from other neurons; beside what a
-- random ranking gets (random_precision = k / neurons, random_auc = 0.5) and the `random`
-- ranking itself, run through the same code. contrast: saliency and Fisher as forget minus
-- retain score (the study's setting) or the forget score alone. planted_recall_after and
-- retain_recall_after: what was planted and what it cost (teacher-forced).
SELECT ranking, contrast, precision_at_k, auc, k, n_neurons, random_precision, random_auc,
       precision_at_k / nullif(random_precision, 0) AS precision_vs_random,
       planted_recall_before, planted_recall_after, retain_recall_before, retain_recall_after
FROM localization
ORDER BY contrast DESC, CASE ranking WHEN 'random' THEN 1 ELSE 0 END, auc DESC, ranking;
