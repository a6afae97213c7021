-- How far unlearning moved the activations (last-token residual stream), by film role and
-- template split: mean cosine distance and relative L2 change vs the base model.
SELECT checkpoint, layer, role, split, cosine_distance, relative_l2, n
FROM activation_shift
WHERE representation = 'resid_last'
ORDER BY checkpoint, layer, role, split;
