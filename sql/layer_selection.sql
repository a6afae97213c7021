-- Layer scores (forget / retain importance mass) and the layers unlearning uses.
SELECT layer, forget_mass, retain_mass, layer_score, layer_rank, selected
FROM neuron_layers
ORDER BY layer;
