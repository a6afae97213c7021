-- Tuning on the validation films (docs/tuning.md): every setting of every method's search, held-out
-- validation recall and utility, the criterion's threshold, and the chosen setting; base and
-- retain_ref (the validation retain reference) are the controls. From the committed trials of
-- config/tuned/{model}.yaml (a `note` when the study ran untuned).
SELECT method, setting, settings, forget_held_out, neighbour_held_out, retain_held_out, utility,
       threshold, qualifies, chosen, qualified, effective_params, note
FROM tuning_trials
ORDER BY method = 'base' DESC, method = 'retain_ref' DESC, method, setting;
