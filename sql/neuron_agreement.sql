-- Do saliency and Fisher agree on which neurons matter? Per layer and data side.
SELECT layer, side, spearman, note, jaccard_top_k, k
FROM neuron_agreement
ORDER BY side, layer;
