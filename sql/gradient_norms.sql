-- Gradient sensitivity of the gold-answer log-likelihood: mean per-prompt gradient norm w.r.t.
-- the input embeddings (layer -1) and the residual stream after each layer.
SELECT layer, "where", grad_norm_forget, grad_norm_retain,
       grad_norm_forget / grad_norm_retain AS forget_over_retain
FROM gradient_norms
ORDER BY layer;
