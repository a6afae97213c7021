-- The 20 highest-ranked neurons and how they split across layers.
SELECT layer, neuron, score, forget_score, retain_score, rank, layer_rank
FROM neuron_ranking
ORDER BY rank
LIMIT 20;
