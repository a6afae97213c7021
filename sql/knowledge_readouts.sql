-- Knowledge left in the activations, per layer (residual stream after the block, last prompt
-- position; rule audit). probe/own: a linear probe trained on the checkpoint's own activations
-- for other films' questions, accuracy on the forget films' questions (forget) and on held-out
-- films (retain_test: the control that the probe decodes unseen films at all); probe/base: the
-- base model's probe applied to the checkpoint (not for the retain reference, trained apart);
-- lens/top1: the logit lens (final norm and unembedding) names the gold answer's first token
-- (answers sharing their first token with another are left out). "estimate [low, high]": design
-- mean over seeds, films and facts, 95% crossed cluster-bootstrap interval in [0, 1]; note: rows
-- left out as undefined (an answer the probe has no class for). The retain reference is the
-- ideal: what stays decodable in a model that never saw the targets.
WITH cells AS (
    SELECT method, readout, coalesce(probe, '-') AS probe, layer, role, estimate, n_facts, note,
           CASE WHEN estimate IS NULL THEN NULL
                WHEN low IS NULL THEN printf('%.3g', estimate)
                WHEN low = high THEN printf('%.3g (no variation)', estimate)
                ELSE printf('%.3g [%.3g, %.3g]', estimate, low, high) END AS cell
    FROM audit_readouts
)
SELECT method, readout, probe, layer,
       max(estimate) FILTER (WHERE role = 'forget') AS forget,
       max(cell) FILTER (WHERE role = 'forget') AS forget_ci,
       max(n_facts) FILTER (WHERE role = 'forget') AS forget_facts,
       max(cell) FILTER (WHERE role = 'retain_test') AS control_ci,
       max(note) FILTER (WHERE role = 'forget') AS forget_note
FROM cells
GROUP BY method, readout, probe, layer
ORDER BY readout, probe, CASE method WHEN 'base' THEN 0 WHEN 'retain_ref' THEN 1 ELSE 2 END,
         method, layer;
